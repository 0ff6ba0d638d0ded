"""The emotion network and its numpy trainer.

Network: 128 features -> ``hidden`` tanh units -> 64 logits over the 8x8
valence-arousal grid (``kelly_jack.rt.emotion``: index ``row * 8 + col``,
valence along columns, arousal along rows). Two losses (``TrainConfig.loss``):

* ``"clip"`` (the default): the squared error between a clip's label and the
  mean over its frames of the grid centroid (the softmax-weighted valence and
  arousal, what the live path and the evaluation use). Frames that cannot tell
  (a staccato gap, the first seconds before tempo and key settle) are then not
  pushed to the clip's label one by one; the model is judged, as in use, on
  what its frames say together.
* ``"frame"``: cross-entropy of each frame's softmax against a Gaussian-smoothed
  target around its clip's (valence, arousal) (``sigma``).

Trained with Adam on minibatches (of frames, or of whole clips for ``"clip"``),
L2 weight decay, early stopping on a held-out split of whole clips; everything
seeded. Feature standardisation
is learned from the training frames and folded into the first layer, so the
exported model takes the raw 128 features.

After training, a linear map from the 64 softmax probabilities to (valence,
arousal) is fitted by ridge least squares on the training frames (no bias is
needed: the probabilities sum to 1); dominance has no labels, its row is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backends.base import softmax

GRID = 8
AXIS = np.linspace(-1.0, 1.0, GRID)
CELL_V = np.tile(AXIS, GRID)  # valence of cell row * 8 + col
CELL_A = np.repeat(AXIS, GRID)


@dataclass
class Network:
    """Weights in the exported form: ``logits = w2 @ tanh(w1 @ x + b1) + b2``; ``mapping`` is 3x64."""

    w1: np.ndarray  # (hidden, 128)
    b1: np.ndarray
    w2: np.ndarray  # (64, hidden)
    b2: np.ndarray
    mapping: np.ndarray  # (3, 64): valence, arousal, dominance from the softmax probabilities
    history: list[dict] = field(default_factory=list)

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = np.tanh(np.asarray(x, dtype=np.float64) @ self.w1.T + self.b1)
        return h @ self.w2.T + self.b2


def centroid(logits: np.ndarray) -> np.ndarray:
    """(n, 2) valence and arousal: the softmax-weighted grid centroid (the live mapping)."""
    p = softmax(logits)
    return np.stack([p @ CELL_V, p @ CELL_A], axis=1)


def targets(va: np.ndarray, sigma: float) -> np.ndarray:
    """(n, 64) Gaussian-smoothed grid distributions around each (valence, arousal) row of ``va``."""
    d2 = (va[:, :1] - CELL_V[None, :]) ** 2 + (va[:, 1:2] - CELL_A[None, :]) ** 2
    t = np.exp(-d2 / (2.0 * sigma * sigma))
    return t / t.sum(axis=1, keepdims=True)


@dataclass
class TrainConfig:
    hidden: int = 64
    sigma: float = 0.3  # target smoothing, in valence/arousal units (cell spacing is 2/7)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch: int = 256
    max_epochs: int = 200
    patience: int = 12
    ridge: float = 1e-3
    seed: int = 0
    loss: str = "clip"  # "clip" or "frame" (module docstring)
    clips_per_batch: int = 16  # for the "clip" loss
    pair_weight: float = 3.0  # of the contrast-pair difference term of the "clip" loss (given pairs)


def train(
    x_train: np.ndarray,
    va_train: np.ndarray,
    x_val: np.ndarray,
    va_val: np.ndarray,
    cfg: TrainConfig,
    log=None,
    clip_train: np.ndarray | None = None,
    clip_val: np.ndarray | None = None,
    pairs: np.ndarray | None = None,
) -> Network:
    """Fit the network on frames ``x_train`` (n, 128) with labels ``va_train`` (n, 2) on -1..1.

    ``clip_train`` / ``clip_val`` give each frame's clip (any integers; frames of a
    clip share its label); the ``"clip"`` loss needs them. Stops when the
    validation loss has not improved for ``cfg.patience`` epochs and returns the
    best epoch's weights. Deterministic for a given seed and data. Raises
    ValueError for an unknown loss or missing clip indices.
    """
    rng = np.random.default_rng(cfg.seed)
    x_train = np.asarray(x_train, dtype=np.float64)
    x_val = np.asarray(x_val, dtype=np.float64)
    mu = x_train.mean(axis=0)
    sd = x_train.std(axis=0)
    # constant features carry nothing: keep them at 0 after standardising instead of dividing by ~0
    sd = np.where(sd > 1e-6 * max(float(sd.max()), 1e-30), sd, np.inf)
    # float32 for the minibatch arithmetic (twice the BLAS speed); folding and the mapping in float64
    f32 = np.float32
    zt, zv = ((x_train - mu) / sd).astype(f32), ((x_val - mu) / sd).astype(f32)
    tt, tv = targets(va_train, cfg.sigma).astype(f32), targets(va_val, cfg.sigma).astype(f32)
    n_in, h, n_out = x_train.shape[1], cfg.hidden, GRID * GRID
    params = [
        rng.normal(0, 1 / np.sqrt(n_in), (h, n_in)).astype(f32),
        np.zeros(h, dtype=f32),
        rng.normal(0, 0.1 / np.sqrt(h), (n_out, h)).astype(f32),
        np.log(tt.mean(axis=0) + 1e-9).astype(f32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8

    def loss(z: np.ndarray, t: np.ndarray, ps) -> float:
        logit = np.tanh(z @ ps[0].T + ps[1]) @ ps[2].T + ps[3]
        logit -= logit.max(axis=1, keepdims=True)
        logp = logit - np.log(np.exp(logit).sum(axis=1, keepdims=True))
        return float(-(t * logp).sum(axis=1).mean())

    if cfg.loss not in ("clip", "frame"):
        raise ValueError(f"TrainConfig.loss: expected 'clip' or 'frame', got {cfg.loss!r}")
    by_clip = cfg.loss == "clip"
    if by_clip:
        if clip_train is None or clip_val is None:
            raise ValueError("the 'clip' loss needs the clip index of every frame (clip_train, clip_val)")
        clip_train, clip_val = np.asarray(clip_train), np.asarray(clip_val)
        groups = _groups(clip_train)
        val_groups = _groups(clip_val)
        ya_t = np.asarray(va_train, dtype=f32)
        ya_v = np.asarray(va_val, dtype=np.float64)
        pairs = np.zeros((0, 2), dtype=np.int64) if pairs is None else np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        units = _units(groups, clip_train, pairs)
        val_pairs = _local_pairs(np.array([clip_val[g[0]] for g in val_groups]), pairs)

    def clip_loss(z: np.ndarray, ps) -> float:
        logit = np.tanh(z @ ps[0].T + ps[1]) @ ps[2].T + ps[3]
        c = centroid(logit)
        err = np.array([c[g].mean(axis=0) - ya_v[g[0]] for g in val_groups])
        diff = err[val_pairs[:, 1]] - err[val_pairs[:, 0]]
        return float((np.square(err).sum() + cfg.pair_weight * np.square(diff).sum()) / len(err))

    best, best_params, stale, step = np.inf, [p.copy() for p in params], 0, 0
    history = []
    for epoch in range(cfg.max_epochs):
        if by_clip:
            order = rng.permutation(len(units))
            batches = [
                np.concatenate([groups[c] for u in order[s : s + cfg.clips_per_batch] for c in units[u]])
                for s in range(0, len(order), cfg.clips_per_batch)
            ]
        else:
            order = rng.permutation(len(zt))
            batches = [order[s : s + cfg.batch] for s in range(0, len(order), cfg.batch)]
        for idx in batches:
            z = zt[idx]
            hid = np.tanh(z @ params[0].T + params[1])
            p = softmax(hid @ params[2].T + params[3])
            if by_clip:
                g_logit = _clip_mean_gradient(p, idx, clip_train, ya_t, pairs, cfg.pair_weight)
            else:
                g_logit = (p - tt[idx]) / len(idx)
            g_w2 = g_logit.T @ hid
            g_b2 = g_logit.sum(axis=0)
            g_h = (g_logit @ params[2]) * (1.0 - hid * hid)
            g_w1 = g_h.T @ z
            g_b1 = g_h.sum(axis=0)
            grads = [g_w1 + cfg.weight_decay * params[0], g_b1, g_w2 + cfg.weight_decay * params[2], g_b2]
            step += 1
            for i, g in enumerate(grads):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                mh = m[i] / (1 - b1**step)
                vh = v[i] / (1 - b2**step)
                params[i] -= cfg.lr * mh / (np.sqrt(vh) + eps)
        val = clip_loss(zv, params) if by_clip else loss(zv, tv, params)
        history.append({"epoch": epoch + 1, "val_loss": round(val, 5)})
        if log:
            log(f"epoch {epoch + 1}: validation loss {val:.4f}")
        if val < best - 1e-5:
            best, best_params, stale = val, [p.copy() for p in params], 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    w1, bias1, w2, bias2 = (p.astype(np.float64) for p in best_params)
    # fold the standardisation into the first layer: w1 @ ((x - mu) / sd) = (w1 / sd) @ x - (w1 / sd) @ mu
    w1f = w1 / sd[None, :]
    b1f = bias1 - w1f @ mu
    net = Network(w1f, b1f, w2, bias2, np.zeros((3, n_out)), history)
    probs = softmax(net.logits(x_train))
    a = probs.T @ probs + cfg.ridge * np.eye(n_out)
    net.mapping[:2] = np.linalg.solve(a, probs.T @ va_train).T
    return net


def _groups(clip: np.ndarray) -> list[np.ndarray]:
    """Frame indices of each clip, in order of first appearance."""
    _, first, inverse = np.unique(clip, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [np.flatnonzero(inverse == k) for k in order]


def _units(groups: list[np.ndarray], clip: np.ndarray, pairs: np.ndarray) -> list[tuple[int, ...]]:
    """Shuffling units over ``groups``: each pair with both clips present is one unit, every other clip its own."""
    ids = np.array([clip[g[0]] for g in groups])
    local = _local_pairs(ids, pairs)
    paired = set(local.ravel().tolist())
    units = [tuple(int(k) for k in pair) for pair in local]
    return sorted(units + [(k,) for k in range(len(groups)) if k not in paired], key=lambda u: u[0])


def _local_pairs(ids: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``pairs`` of clip ids as (m, 2) positions in ``ids``, keeping the pairs whose clips are both there."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[np.isin(pairs, ids).all(axis=1)]
    order = np.argsort(ids, kind="stable")
    return order[np.searchsorted(ids, pairs, sorter=order)].astype(np.int64).reshape(-1, 2)


def _clip_mean_gradient(
    p: np.ndarray,
    idx: np.ndarray,
    clip: np.ndarray,
    va: np.ndarray,
    pairs: np.ndarray | None = None,
    pair_weight: float = 0.0,
) -> np.ndarray:
    """d/d(logits) of the batch loss of the ``"clip"`` loss (module docstring).

    That is (1 / clips) * (sum over clips of |e|^2 + pair_weight * sum over pairs of
    |e_high - e_low|^2), where e is the mean over the clip's frames of the centroid
    minus the clip's label; ``pairs`` (m, 2) are clip ids, those not both in the batch ignored.
    """
    ids, local = np.unique(clip[idx], return_inverse=True)
    count = np.bincount(local).astype(p.dtype)
    cv, ca = p @ CELL_V.astype(p.dtype), p @ CELL_A.astype(p.dtype)
    ev = np.bincount(local, weights=cv) / count
    ea = np.bincount(local, weights=ca) / count
    # each frame's label is its clip's: va rows are indexed by frame
    yv = np.bincount(local, weights=va[idx, 0]) / count
    ya = np.bincount(local, weights=va[idx, 1]) / count
    err = np.stack([ev - yv, ea - ya], axis=1)
    if pairs is not None and len(pairs) and pair_weight:
        lp = _local_pairs(ids, pairs)
        diff = err[lp[:, 1]] - err[lp[:, 0]]
        err = err.copy()
        np.add.at(err, lp[:, 1], pair_weight * diff)
        np.add.at(err, lp[:, 0], -pair_weight * diff)
    scale = (2.0 / (len(count) * count[local]))[:, None]
    dv, da = err[local, :1], err[local, 1:]
    g = scale * (dv * p * (CELL_V[None, :] - cv[:, None]) + da * p * (CELL_A[None, :] - ca[:, None]))
    return g.astype(p.dtype)
