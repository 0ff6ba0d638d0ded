"""The recurrent emotion network (seconds of context) and its numpy trainer (backprop through time).

Network, one hop at a time, state carried from hop to hop (zero after a reset):
128 features -> dense ``dense`` tanh (the feature standardisation folded in) ->
GRU ``units`` -> dense 64 logits over the 8x8 valence-arousal grid (as ``mlp``).
The GRU is Keras's with ``reset_after`` (RTNeural's ``gru`` with a two-row bias,
ONNX ``GRU`` with ``linear_before_reset=1``, PyTorch's ``nn.GRU``); with ``a`` the
dense layer's output and ``h`` the state::

    z = sigmoid(a Wk_z + b_in_z + h Wr_z + b_rec_z)
    r = sigmoid(a Wk_r + b_in_r + h Wr_r + b_rec_r)
    c = tanh(a Wk_c + b_in_c + r * (h Wr_c + b_rec_c))
    h' = z * h + (1 - z) * c

Loss, per clip, over its frames from ``warmup`` on (c_t the softmax-weighted
grid centroid of frame t, y_t its target, e = mean_t (c_t - y_t)):

* a clip label (target shape ``(2,)``): |e|^2, ``mlp``'s clip loss;
* per-frame targets (shape ``(n_frames, 2)``, labels that change within the
  clip): mean_t |c_t - y_t|^2;

plus ``pair_weight`` x |e_high - e_low|^2 for each contrast pair (both clips of
a pair in one minibatch), the sum divided by the number of clips. Clips no
longer than the warm-up carry no loss. A clip with a *relative* target (an
unlabelled recording in a consistency pair: only its pair's difference of
targets means anything) has no clip term and does not count as a clip; it
enters the loss through its pairs alone.

Trained on whole clips (all frames, in order, padded to the batch's longest and
masked) with Adam, L2 weight decay on the matrices, early stopping on the
held-out clips' loss; seeded and deterministic. The minibatch arithmetic is
float32; the returned weights are float64 (the float32 values, the first layer
with the standardisation folded in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backends.base import softmax
from .mlp import CELL_A, CELL_V, GRID, targets

N_OUT = GRID * GRID
DECAYED = (0, 2, 3, 6)  # indices in the parameter list of the matrices weight decay applies to


@dataclass
class GruNetwork:
    """Weights in the exported form (Keras layouts: kernels are inputs x outputs, gates z, r, c).

    ``a = tanh(w1 @ x + b1)``; GRU(``wk``, ``wr``, ``b_in``, ``b_rec``); ``logits = w2 @ h + b2``.
    """

    w1: np.ndarray  # (dense, 128), standardisation folded in
    b1: np.ndarray
    wk: np.ndarray  # (dense, 3 units)
    wr: np.ndarray  # (units, 3 units)
    b_in: np.ndarray  # (3 units,)
    b_rec: np.ndarray
    w2: np.ndarray  # (64, units)
    b2: np.ndarray
    mapping: np.ndarray  # (3, 64): valence, arousal, dominance from the softmax probabilities
    warmup: int = 0  # frames the loss skipped at the start of each clip
    history: list[dict] = field(default_factory=list)
    recurrent = True  # a clip's frames must be run in order, from reset state

    def params(self) -> list[np.ndarray]:
        return [self.w1, self.b1, self.wk, self.wr, self.b_in, self.b_rec, self.w2, self.b2]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(frames, 128) raw features of one clip, in time order, from zero state -> float64 (frames, 64)."""
        z = np.asarray(x, dtype=np.float64)[:, None, :]
        return forward(self.params(), z)[0][:, 0, :]


@dataclass
class GruConfig:
    dense: int = 64
    units: int = 32
    warmup_s: float = 2.0  # seconds at the start of each clip the loss skips
    hop_s: float = 1024 / 48000  # seconds per frame
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clips_per_batch: int = 16
    max_epochs: int = 100
    patience: int = 8
    ridge: float = 1e-3
    seed: int = 0
    pair_weight: float = 3.0
    sigma: float = 0.3  # of the smoothed label distribution whose log is the output bias at the start
    z_bias: float = 2.0  # initial update-gate bias: the state starts out keeping 88 % of itself per hop

    @property
    def warmup(self) -> int:
        """Warm-up in frames."""
        return int(round(self.warmup_s / self.hop_s))


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # no overflow warnings for large |v|


def forward(ps: list[np.ndarray], z: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Logits (T, B, 64) of the inputs ``z`` (T, B, n_in), time-major, from zero state; and the cache for backward."""
    w1, b1, wk, wr, b_in, b_rec, w2, b2 = ps
    steps, batch = z.shape[:2]
    n = wr.shape[0]
    a = np.tanh(z @ w1.T + b1)
    xg = a @ wk + b_in
    hs = np.empty((steps, batch, n), dtype=xg.dtype)
    gates = np.empty((steps, batch, 2 * n), dtype=xg.dtype)  # z, r
    cand = np.empty((steps, batch, n), dtype=xg.dtype)
    hc = np.empty((steps, batch, n), dtype=xg.dtype)  # h Wr_c + b_rec_c
    h = np.zeros((batch, n), dtype=xg.dtype)
    for t in range(steps):
        hg = h @ wr + b_rec
        zr = _sigmoid(xg[t, :, : 2 * n] + hg[:, : 2 * n])
        hc[t] = hg[:, 2 * n :]
        c = np.tanh(xg[t, :, 2 * n :] + zr[:, n:] * hc[t])
        h = c + zr[:, :n] * (h - c)
        gates[t], cand[t], hs[t] = zr, c, h
    return hs @ w2.T + b2, (a, hs, gates, cand, hc)


def backward(ps: list[np.ndarray], z: np.ndarray, cache: tuple, g_logits: np.ndarray) -> list[np.ndarray]:
    """Gradients of the parameters ``ps`` given d(loss)/d(logits) ``g_logits`` (T, B, 64), by backprop through time."""
    w1, b1, wk, wr, b_in, b_rec, w2, b2 = ps
    a, hs, gates, cand, hc = cache
    steps, batch, n = hs.shape
    flat = steps * batch
    g_w2 = g_logits.reshape(flat, -1).T @ hs.reshape(flat, n)
    g_b2 = g_logits.sum(axis=(0, 1))
    g_hs = g_logits @ w2
    d_zr = np.empty_like(gates)  # d(loss)/d(pre-activation) of z and r; shared by the input and recurrent terms
    d_c = np.empty_like(cand)  # ... of the candidate's input term
    dh = np.zeros((batch, n), dtype=hs.dtype)
    zero = np.zeros((batch, n), dtype=hs.dtype)
    for t in range(steps - 1, -1, -1):
        dh += g_hs[t]
        h_prev = hs[t - 1] if t else zero
        zg, rg, c = gates[t, :, :n], gates[t, :, n:], cand[t]
        dc = dh * (1.0 - zg) * (1.0 - c * c)
        d_zr[t, :, :n] = dh * (h_prev - c) * zg * (1.0 - zg)
        d_zr[t, :, n:] = dc * hc[t] * rg * (1.0 - rg)
        d_c[t] = dc
        dh = dh * zg + d_zr[t] @ wr[:, : 2 * n].T + (dc * rg) @ wr[:, 2 * n :].T
    h_prev = np.concatenate([zero[None], hs[:-1]]).reshape(flat, n)
    d_hc = (d_c * gates[:, :, n:]).reshape(flat, n)
    g_wr = np.concatenate([h_prev.T @ d_zr.reshape(flat, 2 * n), h_prev.T @ d_hc], axis=1)
    g_brec = np.concatenate([d_zr.sum(axis=(0, 1)), d_hc.sum(axis=0)])
    d_xg = np.concatenate([d_zr, d_c], axis=2).reshape(flat, 3 * n)
    g_wk = a.reshape(flat, -1).T @ d_xg
    g_bin = d_xg.sum(axis=0)
    d_pre = (d_xg @ wk.T) * (1.0 - a.reshape(flat, -1) ** 2)
    g_w1 = d_pre.T @ z.reshape(flat, -1)
    g_b1 = d_pre.sum(axis=0)
    return [g_w1, g_b1, g_wk, g_wr, g_bin, g_brec, g_w2, g_b2]


@dataclass
class Batch:
    """Clips padded to one length, time-major: ``z`` (T, B, n_in) standardised inputs, ``y`` (T, B, 2) targets,
    ``mask`` (T, B) 1 where a frame counts (past the warm-up, inside the clip), ``framewise`` (B,) per-frame targets,
    ``pairs`` (m, 2) contrast pairs as positions in the batch, ``relative`` (B,) clips whose target only counts
    through their pairs' differences (no clip term)."""

    z: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    framewise: np.ndarray
    pairs: np.ndarray
    relative: np.ndarray


def make_batch(
    seqs: list[np.ndarray],
    tgts: list[np.ndarray],
    idx: np.ndarray,
    mu: np.ndarray,
    sd: np.ndarray,
    warmup: int,
    pairs: np.ndarray,
    dtype=np.float32,
    relative: np.ndarray | None = None,
) -> Batch:
    """The clips ``idx`` of ``seqs`` (each (frames, n_in)) with their targets (``(2,)`` or ``(frames, 2)``);
    ``pairs`` (m, 2) of indices into ``seqs``, those with both clips in ``idx`` kept; ``relative`` (len(seqs),)
    flags clips with relative targets (default none). Raises ValueError for a per-frame target whose length
    is not its clip's."""
    idx = np.asarray(idx)
    steps = max(len(seqs[i]) for i in idx)
    n_in = seqs[idx[0]].shape[1]
    z = np.zeros((steps, len(idx), n_in), dtype=dtype)
    y = np.zeros((steps, len(idx), 2), dtype=dtype)
    mask = np.zeros((steps, len(idx)), dtype=dtype)
    framewise = np.zeros(len(idx), dtype=bool)
    for k, i in enumerate(idx):
        n, t = len(seqs[i]), np.asarray(tgts[i], dtype=np.float64)
        z[:n, k] = (seqs[i] - mu) / sd
        if t.ndim == 2:
            if t.shape != (n, 2):
                raise ValueError(f"clip {i}: per-frame targets of shape {t.shape}, expected ({n}, 2)")
            y[:n, k], framewise[k] = t, True
        else:
            y[:n, k] = t.reshape(2)
        mask[warmup:n, k] = 1.0
    pos = {int(i): k for k, i in enumerate(idx)}
    local = [(pos[int(lo)], pos[int(hi)]) for lo, hi in np.asarray(pairs).reshape(-1, 2) if lo in pos and hi in pos]
    rel = np.zeros(len(idx), dtype=bool) if relative is None else np.asarray(relative, dtype=bool)[idx]
    return Batch(z, y, mask, framewise, np.array(local, dtype=np.int64).reshape(-1, 2), rel)


def loss_terms(logits: np.ndarray, b: Batch, pair_weight: float, grad: bool = True):
    """(sum of the clip terms, sum of the weighted pair terms, clips that count, each clip's mean error e (B, 2),
    d(sum)/d(logits) or None). The batch loss is the first two summed over the third (module docstring).
    """
    p = softmax(logits)
    cv, ca = p @ CELL_V.astype(p.dtype), p @ CELL_A.astype(p.dtype)
    d = np.stack([cv, ca], axis=2) - b.y  # (T, B, 2)
    count = b.mask.sum(axis=0)
    valid = (count > 0) & ~b.relative
    w = b.mask / np.maximum(count, 1.0)  # (T, B): each counted frame's share of its clip's mean
    e = (w[:, :, None] * d).sum(axis=0)  # (B, 2)
    frame_sq = (w * (d * d).sum(axis=2)).sum(axis=0)
    clip_term = np.where(b.relative, 0.0, np.where(b.framewise, frame_sq, (e * e).sum(axis=1)))
    diff = e[b.pairs[:, 1]] - e[b.pairs[:, 0]] if len(b.pairs) else np.zeros((0, 2), dtype=e.dtype)
    pair_term = pair_weight * float((diff * diff).sum())
    if not grad:
        return float(clip_term[valid].sum()), pair_term, int(valid.sum()), e, None
    g_e = np.where((b.framewise | b.relative)[:, None], 0.0, 2.0 * e)
    if len(b.pairs):
        np.add.at(g_e, b.pairs[:, 1], 2.0 * pair_weight * diff)
        np.add.at(g_e, b.pairs[:, 0], -2.0 * pair_weight * diff)
    own = b.framewise & ~b.relative
    g_d = w[:, :, None] * (g_e[None] + np.where(own[None, :, None], 2.0 * d, 0.0))
    g_logits = p * (g_d[:, :, :1] * (CELL_V - cv[:, :, None]) + g_d[:, :, 1:] * (CELL_A - ca[:, :, None]))
    return float(clip_term[valid].sum()), pair_term, int(valid.sum()), e, g_logits.astype(logits.dtype)


def loss_and_grads(ps: list[np.ndarray], b: Batch, pair_weight: float) -> tuple[float, list[np.ndarray]]:
    """The batch loss (clip and pair terms over the clips that count) and its gradients (no weight decay)."""
    logits, cache = forward(ps, b.z)
    clip, pair, count, _, g = loss_terms(logits, b, pair_weight)
    scale = 1.0 / max(count, 1)
    return (clip + pair) * scale, backward(ps, b.z, cache, g * scale)


def _units(n: int, pairs: np.ndarray) -> list[tuple[int, ...]]:
    """Shuffling units: each pair (both clips present) one unit, every other clip its own."""
    paired = {int(i) for i in pairs.ravel()}
    units = [(int(lo), int(hi)) for lo, hi in pairs]
    return sorted(units + [(k,) for k in range(n) if k not in paired], key=lambda u: u[0])


def _pairs_within(pairs, n: int) -> np.ndarray:
    pairs = np.zeros((0, 2), dtype=np.int64) if pairs is None else np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[((pairs >= 0) & (pairs < n)).all(axis=1)]


def train(
    x_train: list[np.ndarray],
    y_train: list[np.ndarray],
    x_val: list[np.ndarray],
    y_val: list[np.ndarray],
    cfg: GruConfig,
    log=None,
    pairs_train: np.ndarray | None = None,
    pairs_val: np.ndarray | None = None,
    relative_train: np.ndarray | None = None,
    relative_val: np.ndarray | None = None,
) -> GruNetwork:
    """Fit the network on clips: ``x_*`` lists of (frames, 128) feature sequences in time order, ``y_*`` each
    clip's target, ``(2,)`` (valence, arousal on -1..1) or ``(frames, 2)`` per frame. ``pairs_*`` (m, 2) are
    contrast pairs (low, high) as indices into the same split's lists. ``relative_*`` (bool per clip, default
    none) flag clips whose targets are relative (module docstring). Returns the best epoch's weights
    (validation loss); deterministic for a seed and data. Raises ValueError for empty splits, a training split
    of relative clips only, or targets of the wrong shape.
    """
    if not x_train or not x_val:
        raise ValueError("need at least one training and one held-out clip")
    rel_t = np.zeros(len(x_train), dtype=bool) if relative_train is None else np.asarray(relative_train, dtype=bool)
    rel_v = np.zeros(len(x_val), dtype=bool) if relative_val is None else np.asarray(relative_val, dtype=bool)
    if rel_t.all():
        raise ValueError("every training clip has a relative target: need labelled clips too")
    rng = np.random.default_rng(cfg.seed)
    f32 = np.float32
    # the standardisation, two passes clip by clip (a float64 copy of every frame would be gigabytes)
    total = sum(len(s) for s in x_train)
    mu = sum(np.asarray(s, dtype=np.float64).sum(axis=0) for s in x_train) / total
    sd = np.sqrt(sum(((np.asarray(s, dtype=np.float64) - mu) ** 2).sum(axis=0) for s in x_train) / total)
    sd = np.where(sd > 1e-6 * max(float(sd.max()), 1e-30), sd, np.inf)  # constant features stay at 0
    warm = cfg.warmup
    pt, pv = _pairs_within(pairs_train, len(x_train)), _pairs_within(pairs_val, len(x_val))
    n_in, d, n = len(mu), cfg.dense, cfg.units
    clip_labels = np.array(
        [
            np.asarray(t, dtype=np.float64).reshape(-1, 2).mean(axis=0)
            for t, r in zip(y_train, rel_t, strict=True)
            if not r
        ]
    )
    b_in = np.zeros(3 * n)
    b_in[:n] = cfg.z_bias
    params = [
        rng.normal(0, 1 / np.sqrt(n_in), (d, n_in)),
        np.zeros(d),
        rng.normal(0, 1 / np.sqrt(d), (d, 3 * n)),
        rng.normal(0, 1 / np.sqrt(n), (n, 3 * n)),
        b_in,
        np.zeros(3 * n),
        rng.normal(0, 0.1 / np.sqrt(n), (N_OUT, n)),
        np.log(targets(clip_labels, cfg.sigma).mean(axis=0) + 1e-9),
    ]
    params = [p.astype(f32) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    units = _units(len(x_train), pt)
    val_batches = [
        make_batch(x_val, y_val, np.arange(s, min(s + 64, len(x_val))), mu, sd, warm, np.zeros((0, 2)), relative=rel_v)
        for s in range(0, len(x_val), 64)
    ]

    def val_loss(ps) -> float:
        total, count, errors = 0.0, 0, []
        for b in val_batches:
            clip, _, c, e, _ = loss_terms(forward(ps, b.z)[0], b, 0.0, grad=False)
            total, count = total + clip, count + c
            errors.append(e)
        e = np.concatenate(errors)
        diff = e[pv[:, 1]] - e[pv[:, 0]] if len(pv) else np.zeros((0, 2))
        return float((total + cfg.pair_weight * (diff * diff).sum()) / max(count, 1))

    best, best_params, stale, step, history = np.inf, [p.copy() for p in params], 0, 0, []
    for epoch in range(cfg.max_epochs):
        order = rng.permutation(len(units))
        for s in range(0, len(order), cfg.clips_per_batch):
            idx = np.array([k for u in order[s : s + cfg.clips_per_batch] for k in units[u]])
            b = make_batch(x_train, y_train, idx, mu, sd, warm, pt, relative=rel_t)
            _, grads = loss_and_grads(params, b, cfg.pair_weight)
            step += 1
            for i, g in enumerate(grads):
                if i in DECAYED:
                    g = g + cfg.weight_decay * params[i]
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                params[i] -= (cfg.lr * (m[i] / (1 - beta1**step)) / (np.sqrt(v[i] / (1 - beta2**step)) + eps)).astype(
                    f32
                )
        val = val_loss(params)
        history.append({"epoch": epoch + 1, "val_loss": round(val, 5)})
        if log:
            log(f"epoch {epoch + 1}: validation loss {val:.4f}")
        if val < best - 1e-5:
            best, best_params, stale = val, [p.copy() for p in params], 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    ps = [p.astype(np.float64) for p in best_params]
    w1f = ps[0] / sd[None, :]  # fold the standardisation: w1 @ ((x - mu) / sd) = (w1 / sd) @ x - (w1 / sd) @ mu
    net = GruNetwork(w1f, ps[1] - w1f @ mu, *ps[2:], np.zeros((3, N_OUT)), warm, history)
    labelled = np.flatnonzero(~rel_t)
    net.mapping[:2] = _fit_mapping(net, [x_train[i] for i in labelled], [y_train[i] for i in labelled], warm, cfg.ridge)
    return net


def _fit_mapping(net: GruNetwork, seqs, tgts, warm: int, ridge: float) -> np.ndarray:
    """(2, 64) ridge least-squares map from the softmax probabilities to the targets, frames past the warm-up."""
    a, rhs = ridge * np.eye(N_OUT), np.zeros((N_OUT, 2))
    for x, t in zip(seqs, tgts, strict=True):
        if len(x) <= warm:
            continue
        p = softmax(net.logits(x))[warm:]
        t = np.asarray(t, dtype=np.float64)
        y = t[warm:] if t.ndim == 2 else np.tile(t.reshape(1, 2), (len(p), 1))
        a += p.T @ p
        rhs += p.T @ y
    return np.linalg.solve(a, rhs).T
