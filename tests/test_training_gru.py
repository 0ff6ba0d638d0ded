"""The recurrent emotion model: its BPTT gradients, that it learns what needs memory, its streaming exports."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from kelly_jack.backends.onnx import OnnxBackend
from kelly_jack.backends.rtneural import RTNeuralBackend
from kelly_jack.training import export, gru
from kelly_jack.training.dataset import Item
from kelly_jack.training.evaluate import predict_clips
from kelly_jack.training.mlp import centroid

N_IN = 128


def _params(rng, n_in, d, n):
    shapes = [(d, n_in), (d,), (d, 3 * n), (n, 3 * n), (3 * n,), (3 * n,), (64, n), (64,)]
    return [rng.normal(0, 0.7, s) for s in shapes]


def assert_gradients_match_finite_differences(ps, b, pair_weight: float, grads) -> None:
    """Central differences of the batch loss against ``grads``, parameter by parameter (relative 1e-6)."""
    for p, g in zip(ps, grads, strict=True):
        num = np.zeros_like(p)
        for j in np.ndindex(p.shape):
            old = p[j]
            p[j] = old + 1e-6
            up = gru.loss_and_grads(ps, b, pair_weight)[0]
            p[j] = old - 1e-6
            down = gru.loss_and_grads(ps, b, pair_weight)[0]
            p[j] = old
            num[j] = (up - down) / 2e-6
        assert np.abs(num - g).max() <= 1e-6 * np.abs(num).max()


def test_gradients_match_finite_differences():
    """Clip labels, per-frame targets, contrast pairs, padding to the longest clip and a clip inside the warm-up."""
    rng = np.random.default_rng(1)
    n_in, d, n = 5, 4, 3
    seqs = [rng.normal(size=(k, n_in)) for k in (9, 7, 9, 6, 2)]
    tgts = [np.array([0.3, -0.2]), rng.uniform(-1, 1, (7, 2)), np.array([-0.5, 0.6]), np.array([0.1, 0.1]), np.ones(2)]
    ps = _params(rng, n_in, d, n)
    b = gru.make_batch(
        seqs, tgts, np.arange(5), np.zeros(n_in), np.ones(n_in), 2, np.array([[0, 2], [3, 1]]), np.float64
    )
    assert b.pairs.tolist() == [[0, 2], [3, 1]] and b.framewise.tolist() == [False, True, False, False, False]
    loss, grads = gru.loss_and_grads(ps, b, 3.0)
    assert loss > 0
    assert_gradients_match_finite_differences(ps, b, 3.0, grads)


def test_gradients_with_relative_clips_match_finite_differences():
    """A relative clip (a framewise one too) in a pair: its gradient comes through the pair term alone."""
    rng = np.random.default_rng(5)
    n_in, d, n = 4, 3, 3
    seqs = [rng.normal(size=(k, n_in)) for k in (8, 8, 6, 7)]
    tgts = [np.zeros(2), np.array([0.1, 0.3]), rng.uniform(-1, 1, (6, 2)), np.array([0.2, -0.1])]
    rel = np.array([True, True, True, False])
    ps = _params(rng, n_in, d, n)
    b = gru.make_batch(
        seqs, tgts, np.arange(4), np.zeros(n_in), np.ones(n_in), 2, np.array([[0, 1], [3, 2]]), np.float64, relative=rel
    )
    grads = gru.loss_and_grads(ps, b, 2.0)[1]
    assert_gradients_match_finite_differences(ps, b, 2.0, grads)


def test_relative_clips_count_only_through_the_difference_of_their_pair():
    rng = np.random.default_rng(6)
    ps = _params(rng, 3, 4, 2)
    seqs = [rng.normal(size=(8, 3)) for _ in range(3)]
    labelled = [np.array([0.1, 0.2])]

    def loss(tgts, relative, pairs=((1, 2),)):
        b = gru.make_batch(
            seqs,
            labelled + tgts,
            np.arange(3),
            np.zeros(3),
            np.ones(3),
            2,
            np.asarray(pairs).reshape(-1, 2),
            np.float64,
            relative=np.array([False, *relative]),
        )
        return gru.loss_and_grads(ps, b, 3.0)[0]

    base = loss([np.array([0.0, 0.0]), np.array([0.1, 0.3])], [True, True])
    # both targets moved alike: the difference, and so the loss, stays
    assert loss([np.array([0.5, -0.4]), np.array([0.6, -0.1])], [True, True]) == pytest.approx(base, rel=1e-12)
    # another difference is another loss
    assert loss([np.array([0.0, 0.0]), np.array([0.1, 0.6])], [True, True]) != pytest.approx(base, rel=1e-6)
    # the same clips as labelled ones: their own errors count too
    assert loss([np.array([0.5, -0.4]), np.array([0.6, -0.1])], [False, False]) != pytest.approx(base, rel=1e-6)
    # without a pair, relative clips add nothing to the labelled clip's loss
    alone = gru.make_batch(seqs[:1], labelled, np.arange(1), np.zeros(3), np.ones(3), 2, np.zeros((0, 2)), np.float64)
    assert loss([np.zeros(2), np.ones(2)], [True, True], ()) == pytest.approx(
        gru.loss_and_grads(ps, alone, 3.0)[0], rel=1e-12
    )


def test_a_training_split_of_relative_clips_only_is_refused():
    rng = np.random.default_rng(7)
    seqs = [rng.normal(size=(6, 3)) for _ in range(2)]
    with pytest.raises(ValueError, match="relative"):
        gru.train(
            seqs,
            [np.zeros(2)] * 2,
            seqs,
            [np.zeros(2)] * 2,
            gru.GruConfig(dense=4, units=2, max_epochs=1),
            relative_train=np.ones(2, dtype=bool),
        )


def test_clip_loss_is_the_squared_error_of_the_mean_centroid_after_the_warm_up():
    rng = np.random.default_rng(2)
    ps = _params(rng, 3, 4, 2)
    x, y = rng.normal(size=(8, 3)), np.array([0.2, -0.4])
    b = gru.make_batch([x], [y], np.arange(1), np.zeros(3), np.ones(3), 3, np.zeros((0, 2)), np.float64)
    p = gru.softmax(gru.forward(ps, x[:, None, :])[0][:, 0, :])[3:]
    e = np.array([(p @ gru.CELL_V).mean(), (p @ gru.CELL_A).mean()]) - y
    assert gru.loss_and_grads(ps, b, 0.0)[0] == pytest.approx((e * e).sum(), rel=1e-12)


def test_per_frame_targets_must_match_their_clip():
    with pytest.raises(ValueError, match=r"clip 0: per-frame targets of shape \(4, 2\), expected \(5, 2\)"):
        gru.make_batch([np.zeros((5, 3))], [np.zeros((4, 2))], np.arange(1), 0.0, 1.0, 0, np.zeros((0, 2)))


def _memory_task(rng, clips: int, frames: int = 60):
    """The label shows (in feature 0) for the first 8 frames only: after the warm-up, only a state remembers it."""
    seqs, labels = [], []
    for _ in range(clips):
        y = rng.uniform(-0.8, 0.8, 2)
        x = np.full((frames, N_IN), 3.0, dtype=np.float32)
        x[:, :2] += rng.normal(0, 0.2, (frames, 2))
        x[:8, 0] += 2.0 * y[0]
        x[:8, 1] += 2.0 * y[1]
        seqs.append(x)
        labels.append(y)
    return seqs, labels


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    seqs, labels = _memory_task(rng, 72)
    cfg = gru.GruConfig(dense=16, units=12, warmup_s=20 * 1024 / 48000, max_epochs=40, patience=40, lr=1e-2)
    net = gru.train(seqs[:56], labels[:56], seqs[56:], labels[56:], cfg)
    return net, seqs[56:], labels[56:]


def test_learns_what_only_a_state_can_carry(trained):
    net, seqs, labels = trained
    losses = [h["val_loss"] for h in net.history]
    assert min(losses) < 0.25 * losses[0]  # a one-hop model cannot beat predicting the mean here
    pred = np.array([centroid(net.logits(x))[20:].mean(axis=0) for x in seqs])
    assert np.corrcoef(pred[:, 0], np.array(labels)[:, 0])[0, 1] > 0.8


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    net = trained[0]
    d = tmp_path_factory.mktemp("gru")
    meta = export.metadata(net, layout_version=4, rate=48000, window=2048, hop=1024, training="a memory task")
    export.save(net, meta, d / "m.onnx", d / "m.json")
    return d / "m.onnx", d / "m.json"


def _steps(backend, x):
    return np.stack([backend.infer(row) for row in x])


def test_both_backends_stream_the_same_logits_one_hop_at_a_time(trained, exported):
    net, seqs, _ = trained
    o, r = OnnxBackend({"model": str(exported[0])}), RTNeuralBackend({"model": str(exported[1])})
    for x in seqs[:4]:
        o.reset()
        r.reset()
        yo, yr = _steps(o, x), _steps(r, x)
        assert np.abs(yo - yr).max() <= 1e-5
        assert np.abs(yr - net.logits(x)).max() <= 1e-5 * max(1.0, np.abs(yr).max())
        for b in (o, r):  # a block is the same steps in order
            b.reset()
            assert np.abs(b.infer_block(x) - yr).max() <= 1e-5
    # state is carried between calls, and reset() forgets it
    o.reset()
    carried = _steps(o, np.concatenate([seqs[0], seqs[1]]))[len(seqs[0]) :]
    o.reset()
    fresh = _steps(o, seqs[1])
    assert np.abs(carried[:8] - fresh[:8]).max() > 1e-3
    r.reset()
    assert np.abs(fresh - _steps(r, seqs[1])).max() <= 1e-5


def test_exports_say_the_model_is_recurrent(exported):
    model = onnx.load(str(exported[0]))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["kelly_jack.state"]) == [["state", "state_out"]]
    assert [n.op_type for n in model.graph.node if n.op_type == "GRU"] == ["GRU"]
    gru_node = next(n for n in model.graph.node if n.op_type == "GRU")
    assert {a.name: a.i for a in gru_node.attribute}["linear_before_reset"] == 1
    o, r = OnnxBackend({"model": str(exported[0])}), RTNeuralBackend({"model": str(exported[1])})
    for b in (o, r):
        assert b.metadata["recurrent"] is True and b.metadata["layout_version"] == 4
        assert np.asarray(b.metadata["emotion_mapping"]).shape == (3, 64)
    assert r.metadata["layers"] == "dense, gru, dense"


def test_evaluation_runs_each_clip_from_reset_state(trained, exported, tmp_path):
    seqs = trained[1][:3]
    items = [Item(str(k), 0.0, 0.0, tmp_path / f"{k}.wav") for k in range(3)]
    feats = {it.song_id: x for it, x in zip(items, seqs, strict=True)}
    for path in exported:
        backend = OnnxBackend({"model": str(path)}) if path.suffix == ".onnx" else RTNeuralBackend({"model": str(path)})
        pred = predict_clips(backend, items, lambda it: feats[it.song_id])["centroid"]
        for k, x in enumerate(seqs):
            backend.reset()
            want = centroid(_steps(backend, x).astype(np.float64)).mean(axis=0)
            assert np.abs(pred[k] - want).max() <= 1e-6


def test_bad_state_metadata_is_a_load_error(exported, tmp_path):
    model = onnx.load(str(exported[0]))
    for entry in model.metadata_props:
        if entry.key == "kelly_jack.state":
            entry.value = '[["state", "nope"]]'
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(Exception, match="kelly_jack.state names output 'nope', which the graph does not have"):
        OnnxBackend({"model": str(bad)})


@pytest.mark.parametrize("recurrent", [True, False])
def test_clip_predictions_streamed_equal_the_whole_corpus_at_once(recurrent, monkeypatch):
    """Clip means computed a clip or a block at a time (to keep a large corpus's logits out of memory) are the
    means of every frame's values computed at once; blocks that cut clips apart change nothing."""
    from kelly_jack.backends.base import softmax
    from kelly_jack.training import pipeline
    from kelly_jack.training.mlp import Network

    rng = np.random.default_rng(7)
    lengths = [5, 1, 9, 4, 7]
    clip = np.repeat(np.arange(len(lengths)), lengths)
    x = rng.normal(0, 1, (len(clip), N_IN)).astype(np.float32)
    frames = pipeline.Frames(x, np.zeros((len(clip), 2)), clip)
    mapping = rng.normal(0, 1, (3, 64))
    if recurrent:
        net = gru.GruNetwork(*_params(rng, N_IN, 6, 4), mapping)
        logits = np.concatenate([net.logits(x[clip == k]) for k in range(len(lengths))])
    else:
        net = Network(
            rng.normal(0, 0.3, (8, N_IN)), rng.normal(0, 0.3, 8), rng.normal(0, 1, (64, 8)), np.zeros(64), mapping
        )
        logits = net.logits(x)
    monkeypatch.setattr(pipeline, "PREDICT_BLOCK", 3)
    cen, mapped = pipeline.clip_predictions(net, frames, len(lengths) + 1)  # one item without frames
    want_cen, want_mapped = centroid(logits), softmax(logits) @ mapping[:2].T
    for k in range(len(lengths)):
        np.testing.assert_allclose(cen[k], want_cen[clip == k].mean(axis=0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mapped[k], want_mapped[clip == k].mean(axis=0), rtol=1e-12, atol=1e-12)
    assert not cen[-1].any() and not mapped[-1].any()
