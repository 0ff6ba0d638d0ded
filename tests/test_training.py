"""The emotion-model pipeline: corpus plan and label rules, MIDI, feature seam, dataset formats, trainer, export."""

from __future__ import annotations

import io
import json
from dataclasses import fields, replace

import mido
import numpy as np
import pytest

from kelly_jack.backends.base import BackendError
from kelly_jack.backends.onnx import OnnxBackend
from kelly_jack.backends.rtneural import RTNeuralBackend
from kelly_jack.rt import features as extractor
from kelly_jack.training import cues as C
from kelly_jack.training import export, instruments, mlp
from kelly_jack.training.corpus import CONTRASTS, plan
from kelly_jack.training.dataset import DatasetError, read_annotations
from kelly_jack.training.features import HOP, WINDOW, clip_features, frame_count
from kelly_jack.training.mlp import TrainConfig, centroid
from kelly_jack.training.music import midi_bytes, notes
from kelly_jack.training.pipeline import pearson, split

from support.onnx_models import dense_tanh


def test_plan_is_deterministic_from_its_seed():
    a_clips, a_pairs = plan(12, 5, instruments.TRAIN, contrasts=2)
    b_clips, b_pairs = plan(12, 5, instruments.TRAIN, contrasts=2)
    c_clips, _ = plan(12, 6, instruments.TRAIN, contrasts=2)
    assert a_clips == b_clips and a_pairs == b_pairs
    assert [c.label for c in a_clips] == [c.label for c in b_clips]
    midi_a = [midi_bytes(c.cues, notes(c.cues, c.seed, 8.0)) for c in a_clips]
    midi_b = [midi_bytes(c.cues, notes(c.cues, c.seed, 8.0)) for c in b_clips]
    assert midi_a == midi_b
    assert a_clips != c_clips
    assert len(a_clips) == 12 + 2 * 2 * len(CONTRASTS)


def test_train_and_eval_instruments_do_not_overlap():
    assert not set(instruments.TRAIN) & set(instruments.EVAL)
    assert all(-1 <= b <= 1 for _, b in [*instruments.TRAIN.values(), *instruments.EVAL.values()])


def _sweep(base: C.Cues, field: str, values) -> list[tuple[float, float]]:
    return [C.label(replace(base, **{field: v})) for v in values]


CUE_FIELDS = {
    "tempo": ("bpm", np.linspace(*C.TEMPO_BPM, 7)),
    "register": ("register", np.linspace(*C.REGISTER_NOTE, 7)),
    "dynamics": ("velocity", np.linspace(*C.VELOCITY, 7)),
    "articulation": ("note_length", np.linspace(*C.NOTE_LENGTH, 7)),
    "consonance": ("consonance", [3, 2, 1, 0]),
    "timbre": ("brightness", np.linspace(-1, 1, 5)),
    "mode": ("mode", sorted(C.MODES, key=lambda m: C.MODES[m][1])),
}


@pytest.mark.parametrize("cue", sorted(CUE_FIELDS))
def test_label_rules_are_monotonic_in_each_cue(cue):
    rng = np.random.default_rng(3)
    field, values = CUE_FIELDS[cue]
    for _ in range(5):
        base = C.Cues(
            mode=str(rng.choice(sorted(C.MODES))),
            bpm=float(rng.uniform(*C.TEMPO_BPM)),
            register=float(rng.uniform(*C.REGISTER_NOTE)),
            velocity=float(rng.uniform(*C.VELOCITY)),
            note_length=float(rng.uniform(0.25, 1.0)),
            consonance=int(rng.integers(4)),
            program=0,
            brightness=float(rng.uniform(-1, 1)),
        )
        labels = np.array(_sweep(base, field, values))
        for d, weights in enumerate((C.VALENCE_WEIGHTS, C.AROUSAL_WEIGHTS)):
            steps = np.diff(labels[:, d])
            w = weights[cue]
            if w > 0:
                assert (steps > 0).all(), (cue, d, labels[:, d])
            elif w < 0:
                assert (steps < 0).all(), (cue, d, labels[:, d])
            else:
                assert np.allclose(steps, 0)
        assert (np.abs(labels) <= 1).all()


def test_cue_weights_follow_the_published_order():
    # Eerola, Friberg & Bresin 2013: mode > tempo > register > dynamics > articulation > timbre (valence),
    # tempo first for arousal
    v = {k: abs(w) for k, w in C.VALENCE_WEIGHTS.items()}
    assert v["mode"] > v["tempo"] > v["register"] > v["dynamics"] > v["articulation"] > v["timbre"]
    a = {k: abs(w) for k, w in C.AROUSAL_WEIGHTS.items()}
    assert a["tempo"] == max(a.values()) and a["dynamics"] > a["register"] > a["timbre"]


def test_midi_file_carries_the_cues():
    cues = C.Cues("aeolian", 132.0, 72.0, 90.0, 0.5, 0, 56, 0.8)
    f = mido.MidiFile(file=io.BytesIO(midi_bytes(cues, notes(cues, 11, 8.0))))
    msgs = [m for t in f.tracks for m in t]
    (tempo,) = [m.tempo for m in msgs if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempo) == pytest.approx(132.0, abs=0.01)
    assert {m.program for m in msgs if m.type == "program_change"} == {56}
    ons = [m for m in msgs if m.type == "note_on" and m.velocity > 0]
    melody = [m.note for m in ons if m.channel == 0]
    assert abs(np.mean(melody) - 72.0) < 7
    assert abs(np.median([m.velocity for m in ons if m.channel == 0]) - 90) <= 8
    assert f.length == pytest.approx(8.0, abs=0.6)
    # only the scale's pitch classes (aeolian on the clip's tonic) at consonance 0
    pcs = {n % 12 for n in melody}
    assert len(pcs) <= 7


def test_contrast_pairs_differ_in_their_cue_only():
    clips, pairs = plan(0, 9, instruments.EVAL, contrasts=1)
    by_id = {c.song_id: c for c in clips}
    for low, high, cue in pairs:
        a, b = by_id[low], by_id[high]
        assert a.seed == b.seed
        differ = [f.name for f in fields(C.Cues) if getattr(a.cues, f.name) != getattr(b.cues, f.name)]
        assert len(differ) == 1, (cue, differ)
        assert notes(a.cues, a.seed, 8.0) != notes(b.cues, b.seed, 8.0)


def test_consonance_levels_add_dissonant_tones():
    from kelly_jack.training.music import chord_tones

    scale = C.MODES["ionian"][0]
    assert chord_tones(scale, 0, 0) == [0, 4, 7]
    clusters = chord_tones(scale, 0, 3)
    assert {1, 6} <= set(clusters) and len(clusters) > 3


def test_clip_features_use_the_live_extractor_and_windowing():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(WINDOW + 5 * HOP + 17)).astype(np.float32)
    f = clip_features(x, 48000)
    assert f.shape == (frame_count(len(x)), extractor.FEATURE_SIZE) == (6, 128)
    # the live extractor from reset state, streamed over the same windows in order
    fx = extractor.FeatureExtractor(48000, WINDOW, HOP)
    row = np.zeros(128, dtype=np.float32)
    for k in range(4):
        fx.compute(x[k * HOP : k * HOP + WINDOW], row)
    np.testing.assert_array_equal(f[3], row)
    np.testing.assert_array_equal(clip_features(x, 48000), f)  # each clip starts from reset state
    assert clip_features(x[: WINDOW - 1], 48000).shape == (0, 128)
    # another rate is resampled to the analysis rate first
    one_second = (0.1 * rng.standard_normal(44100)).astype(np.float32)
    assert clip_features(one_second, 44100).shape[0] == frame_count(48000)


def test_clip_features_are_finite_on_bad_audio():
    x = np.zeros(WINDOW * 3, dtype=np.float32)
    x[100:200] = np.nan
    x[5000] = np.inf
    x[6000:7000] = 1.0
    assert np.isfinite(clip_features(x, 48000)).all()


def test_reads_deam_and_pmemo_formats(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for sid in ("2", "3"):
        (audio / f"{sid}.wav").write_bytes(b"")
    deam = tmp_path / "deam.csv"
    deam.write_text("song_id, valence_mean, valence_std, arousal_mean, arousal_std\n2,9,0.5,1,0.5\n3,5,1,7,1\n")
    items = read_annotations(deam, audio)
    assert [(i.song_id, i.valence, i.arousal) for i in items] == [("2", 1.0, -1.0), ("3", 0.0, 0.5)]
    pmemo = tmp_path / "pmemo.csv"
    pmemo.write_text("musicId,Arousal(mean),Valence(mean)\n2,0.25,0.75\n")
    (item,) = read_annotations(pmemo, audio)
    assert (item.valence, item.arousal) == (0.5, -0.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,c\n1,2,3\n", "not a DEAM"),
        ("song_id,valence_mean,arousal_mean\n2,x,3\n", ":2: expected"),
        ("song_id,valence_mean,arousal_mean\n99,5,5\n", "no audio for song_id 99"),
    ],
)
def test_bad_annotations_are_one_line_errors(tmp_path, text, message):
    (tmp_path / "2.wav").write_bytes(b"")
    p = tmp_path / "ann.csv"
    p.write_text(text)
    with pytest.raises(DatasetError, match=message) as e:
        read_annotations(p, tmp_path)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def _synthetic(n, rng):
    """Frames whose label is a smooth function of a few raw (unstandardised, offset) features."""
    va = rng.uniform(-0.8, 0.8, (n, 2))
    x = rng.standard_normal((n, 128)) * 0.05
    x[:, 0] = 0.01 + 0.004 * va[:, 0]  # small scale and offset: standardisation must fold correctly
    x[:, 1] = 300.0 + 80.0 * va[:, 1]
    x[:, 7] = 5.0  # constant feature
    return x.astype(np.float32), va


@pytest.mark.parametrize("loss", ["clip", "frame"])
def test_trainer_learns_and_folds_standardisation_into_the_first_layer(tmp_path, loss):
    rng = np.random.default_rng(1)
    x, va = _synthetic(3000, rng)
    xv, vav = _synthetic(500, rng)
    cfg = TrainConfig(hidden=16, max_epochs=40, patience=5, seed=0, loss=loss)
    clips = (np.arange(3000), np.arange(500))  # each frame its own clip

    def train(*args):
        return mlp.train(*args, None, *clips)

    net = train(x, va, xv, vav, cfg)
    pred = centroid(net.logits(xv))
    assert pearson(pred[:, 0], vav[:, 0]) > 0.95 and pearson(pred[:, 1], vav[:, 1]) > 0.95
    mapped = np.exp(net.logits(xv) - net.logits(xv).max(1, keepdims=True))
    mapped = (mapped / mapped.sum(1, keepdims=True)) @ net.mapping[:2].T
    assert np.abs(mapped - vav).mean() <= np.abs(pred - vav).mean() + 0.02
    assert (net.mapping[2] == 0).all()
    # same data, same seed: same weights
    again = train(x, va, xv, vav, cfg)
    np.testing.assert_array_equal(net.w1, again.w1)
    # both exported files run the raw features and agree with the numpy network
    meta = export.metadata(net, layout_version=7, rate=48000, window=2048, hop=1024, training="synthetic")
    export.save(net, meta, tmp_path / "m.onnx", tmp_path / "m.json")
    o = OnnxBackend({"model": str(tmp_path / "m.onnx")})
    r = RTNeuralBackend({"model": str(tmp_path / "m.json")})
    yo, yr = o.infer_block(xv), r.infer_block(xv)
    # both compute in float64, so the folded standardisation of these offset features loses nothing
    np.testing.assert_allclose(yo, net.logits(xv), atol=1e-5, rtol=0)
    np.testing.assert_allclose(yo, yr, atol=1e-5, rtol=0)
    for m in (o.metadata, r.metadata):
        assert (m["layout_version"], m["sample_rate"], m["window"], m["hop"]) == (7, 48000, 2048, 1024)
        assert m["training_data"] == "synthetic" and m["mapping"].startswith("grid8x8")
        np.testing.assert_allclose(m["emotion_mapping"], net.mapping, atol=1e-6)


def test_clip_loss_gradient_matches_finite_differences():
    """The clip loss's gradient (mean over a clip's frames of the centroid vs its label) is right."""
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((7, 64))
    clip = np.array([3, 3, 5, 5, 5, 9, 3])
    va = np.array([[0.5, -0.2], [0.5, -0.2], [-0.7, 0.1], [-0.7, 0.1], [-0.7, 0.1], [0.0, 0.9], [0.5, -0.2]])
    idx = np.arange(7)

    def value(z):
        c = mlp.centroid(z)
        return np.mean([np.sum((c[clip == k].mean(axis=0) - va[clip == k][0]) ** 2) for k in (3, 5, 9)])

    g = mlp._clip_mean_gradient(mlp.softmax(logits), idx, clip, va)
    np.testing.assert_allclose(g[:, ::5], _numeric_gradient(value, logits)[:, ::5], atol=1e-8)


def _numeric_gradient(value, logits):
    numeric = np.zeros_like(logits)
    for i in range(logits.shape[0]):
        for j in range(0, 64, 5):
            d = np.zeros_like(logits)
            d[i, j] = 1e-6
            numeric[i, j] = (value(logits + d) - value(logits - d)) / 2e-6
    return numeric


def test_pair_term_gradient_matches_finite_differences():
    """With contrast pairs, the loss adds weight * |error(high) - error(low)|^2 per pair in the batch."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((8, 64))
    clip = np.array([3, 3, 5, 5, 5, 9, 3, 11])
    labels = {3: [0.5, -0.2], 5: [-0.7, 0.1], 9: [0.0, 0.9], 11: [0.3, 0.3]}
    va = np.array([labels[c] for c in clip])
    pairs = np.array([[3, 5], [9, 11], [5, 40]])  # the last pair's high clip is not in the batch: ignored
    weight = 2.5

    def value(z):
        c = mlp.centroid(z)
        err = {k: c[clip == k].mean(axis=0) - labels[k] for k in labels}
        pair = sum(np.sum((err[b] - err[a]) ** 2) for a, b in pairs[:2])
        return (sum(np.sum(e**2) for e in err.values()) + weight * pair) / len(labels)

    g = mlp._clip_mean_gradient(mlp.softmax(logits), np.arange(8), clip, va, pairs, weight)
    np.testing.assert_allclose(g[:, ::5], _numeric_gradient(value, logits)[:, ::5], atol=1e-8)
    # weight 0 is the plain clip loss
    plain = mlp._clip_mean_gradient(mlp.softmax(logits), np.arange(8), clip, va)
    np.testing.assert_array_equal(mlp._clip_mean_gradient(mlp.softmax(logits), np.arange(8), clip, va, pairs, 0), plain)
    assert not np.allclose(g, plain)


def test_pairs_stay_together_in_the_split_and_in_batches():
    pairs = np.array([[k, k + 1] for k in range(0, 200, 2)])
    held = split(200, 0.3, 0, pairs)
    assert (held[pairs[:, 0]] == held[pairs[:, 1]]).all() and 0 < held.sum() < 200
    groups = [np.array([k]) for k in range(10)]
    units = mlp._units(groups, np.array([7, 3, 9, 5, 0, 1, 2, 4, 6, 8]), np.array([[3, 9], [5, 7], [1, 99]]))
    assert (1, 2) in units and (3, 0) in units and len(units) == 8
    assert sorted(k for u in units for k in u) == list(range(10))


def test_clip_loss_needs_clip_indices():
    x = np.zeros((4, 128), dtype=np.float32)
    va = np.zeros((4, 2))
    with pytest.raises(ValueError, match="clip index"):
        mlp.train(x, va, x, va, TrainConfig(max_epochs=1))
    with pytest.raises(ValueError, match="expected 'clip' or 'frame'"):
        mlp.train(x, va, x, va, TrainConfig(max_epochs=1, loss="bogus"))


@pytest.mark.parametrize(
    "key, value", [("kelly_jack.layout_version", "one"), ("kelly_jack.emotion_mapping", "[[1, 2]]")]
)
def test_bad_model_metadata_is_a_load_error(tmp_path, key, value):
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((128, 64)), np.zeros(64)
    path = dense_tanh(tmp_path / "m.onnx", w, b, **{key.replace(".", "__"): value})
    with pytest.raises(BackendError, match=f"m.onnx: metadata {key}"):
        OnnxBackend({"model": str(path)})
    doc = {**RTNeural_doc(w, b), key: value}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(BackendError, match=f"m.json: metadata {key}"):  # at load, as for onnx
        RTNeuralBackend({"model": str(tmp_path / "m.json")})


def RTNeural_doc(w, b):
    return {
        "in_shape": [None, None, 128],
        "layers": [{"type": "dense", "activation": "tanh", "shape": [None, 64], "weights": [w.tolist(), b.tolist()]}],
    }


def test_row_blocks_give_the_rows_in_order_across_blocks():
    from kelly_jack.training.pipeline import RowBlocks

    rng = np.random.default_rng(3)
    parts = [rng.normal(size=(n, 4)).astype(np.float32) for n in (2, 1, 5, 0, 3, 3)]  # 5 rows: more than a block
    blocks = RowBlocks(block_rows=3)
    for part in parts:
        blocks.add(part)
    assert len(blocks.blocks) > 1
    out = blocks.array()
    assert out.dtype == np.float32 and np.array_equal(out, np.concatenate(parts))
    assert blocks.blocks == []  # let go


def test_frames_of_are_each_clips_frames_in_item_order():
    from kelly_jack.training.dataset import Item
    from kelly_jack.training.pipeline import frames_of

    items = [Item(str(i), 0.0, 0.0, f"{i}.wav") for i in range(5)]
    lengths = [30, 7, 0, 300, 12]
    frames = frames_of(
        items, 0, features=lambda item: np.full((lengths[int(item.song_id)], 128), float(item.song_id), np.float32)
    )
    assert np.array_equal(frames.clip, np.repeat(np.arange(5), lengths))
    assert np.array_equal(frames.x[:, 0], frames.clip.astype(np.float32)) and frames.x.shape == (sum(lengths), 128)


def test_frames_of_clips_too_short_for_a_window_are_refused():
    from kelly_jack.training.dataset import Item
    from kelly_jack.training.pipeline import frames_of

    items = [Item(str(i), 0.0, 0.0, f"{i}.wav") for i in range(2)]
    for clips in (items, []):
        with pytest.raises(ValueError, match="no feature frames"):
            frames_of(clips, 0, features=lambda item: np.zeros((0, 128), np.float32))


def test_frames_of_a_clip_whose_cues_change_take_their_labels_from_its_timeline(tmp_path):
    """Frames before the change carry the first segment's label, frames after it the second's (by window end)."""
    from kelly_jack.training.dataset import Item
    from kelly_jack.training.pipeline import frames_of

    n = 40
    changing = Item("a", 0.0, 0.0, tmp_path / "a.wav", segments=((0.0, 0.4, -0.5, 0.2), (0.4, 1.0, 0.5, 0.8)))
    steady = Item("b", 0.3, -0.3, tmp_path / "b.wav")
    frames = frames_of([changing, steady], 0, features=lambda item: np.zeros((n, 128), dtype=np.float32))
    ends = (np.arange(n) * HOP + WINDOW) / 48000.0
    a = frames.va[frames.clip == 0]
    assert np.array_equal(a[ends < 0.4], np.tile([-0.5, 0.2], ((ends < 0.4).sum(), 1)))
    assert np.array_equal(a[ends >= 0.4], np.tile([0.5, 0.8], ((ends >= 0.4).sum(), 1)))
    assert np.array_equal(frames.va[frames.clip == 1], np.tile([0.3, -0.3], (n, 1)))
    few = frames_of([changing, steady], 8, features=lambda item: np.zeros((n, 128), dtype=np.float32))
    assert len(few.x) == len(few.va) == len(few.clip) == 16
    picked = np.unique(np.linspace(0, n - 1, 8).round().astype(int))
    assert np.array_equal(few.va[:8, 0], np.where(ends[picked] < 0.4, -0.5, 0.5))


def test_the_recurrent_trainer_gets_per_frame_targets_only_for_clips_that_change_and_relative_flags(monkeypatch):
    from kelly_jack.training import gru as gru_module
    from kelly_jack.training.pipeline import Frames, train_recurrent

    seen = {}

    def fake_train(
        x_train, y_train, x_val, y_val, cfg, log, pairs_train, pairs_val, relative_train=None, relative_val=None
    ):
        seen["train"], seen["val"] = [np.shape(y) for y in y_train], [np.shape(y) for y in y_val]
        seen["relative"] = (relative_train.tolist(), relative_val.tolist())
        return None

    monkeypatch.setattr(gru_module, "train", fake_train)
    va = np.array([[0.1, 0.2]] * 3 + [[0.1, 0.2], [0.1, 0.2], [0.9, 0.9]] + [[0.0, 0.0]] * 3)
    frames = Frames(np.zeros((9, 128), dtype=np.float32), va, np.repeat([0, 1, 2], 3))
    held = np.array([False, False, True])
    train_recurrent(frames, held, gru_module.GruConfig(), None, relative_items=np.array([True, False, True]))
    assert seen == {"train": [(2,), (3, 2)], "val": [(2,)], "relative": ([True, False], [True])}
