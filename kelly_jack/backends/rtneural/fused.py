"""A chain of rtneural layers laid out as one plan and run over a block in ONE jitted call.

At load, ``Plan(layers, input_size, precision)`` copies the layers' weights
into one flat array in the layouts the kernels read fastest (dense kernels
transposed when their input is wide, a GRU's recurrent columns split when it
has no reset_after), describes each layer by a row of an int64 op table, and
preallocates one arena holding the streaming state (recurrent h and c, each
conv's channel-major input history) followed by the scratch (two ping-pong
activation buffers of ``CHUNK`` steps, per-layer gate buffers). ``run_block``
then walks the table for each chunk of up to ``CHUNK`` steps: no allocation,
no Python, the GIL released throughout (it runs on the inference thread, never
the audio thread). Consecutive conv1d layers hand their outputs over
channel-major, so a conv stack is transposed only at its ends.

Layer types covered: dense / time-distributed-dense, activation, conv1d,
batchnorm, prelu, gru (both reset_after forms), lstm; ``covers(layer)`` says
whether a layer object is one of them (anything else runs through its own
``forward_block`` in the per-layer path of ``model.Model``).

Precision (``PRECISIONS``): "float64" (default) computes everything in float64;
tanh and sigmoid use ``vecmath`` (within 1e-15 of libm, in SIMD registers) and
the summation order differs from the per-layer reference kernels, so results
agree with them to ~1e-14, not bit for bit. "float32" stores weights, state
and activations in float32 (RTNeural's own default type; twice the SIMD
lanes), within ~1e-7 relative of float64 per layer; both pass RTNeural's
conformance data at its tolerances.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import vecmath
from .activation import Activation
from .batchnorm import BatchNorm
from .conv1d import Conv1D
from .dense import Dense
from .gru import GRU
from .lstm import LSTM
from .prelu import PReLU

CHUNK = 128  # steps per pass through the layers; scratch is sized for it

# op table columns
KIND, N_IN, N_OUT, W, B, STATE, ACT, X0, X1, X2, X3 = range(11)
COLUMNS = 11
# header (row 0) columns
H_LAYERS, H_IN, H_OUT, H_CHUNK, H_STATE, H_BUF_A, H_BUF_B = range(7)
# layer kinds
DENSE, ACTIVATION, CONV1D, BATCHNORM, PRELU, GRU_KIND, LSTM_KIND = range(1, 8)

FLAGS = {"contract"}  # fused multiply-add, no reassociation (vecmath's range reduction needs the order)
REDUCE_FLAGS = {"contract", "reassoc"}  # dot products: reassociation lets the reduction vectorise
JIT = {"nogil": True, "cache": True, "error_model": "numpy"}  # numpy errors: no zero-division branch in loops


# ---- kernels ----
# Kernels take array views whose loop indices start at 0: Numba's negative-index wraparound is
# then provably dead and LLVM vectorises the inner loops (with raw offsets into the arena it
# cannot prove the index non-negative and every loop stays scalar, ~5x slower).


@numba.njit(fastmath=FLAGS, **JIT)
def _dense_broadcast(w, b, x, y):
    """y (steps x n_out) = x (steps x n_in) @ w (n_in x n_out) + b: contiguous rows of w, for small n_in."""
    for t in range(x.shape[0]):
        for o in range(y.shape[1]):
            y[t, o] = b[o]
        for i in range(x.shape[1]):
            v = x[t, i]
            for o in range(y.shape[1]):
                y[t, o] += v * w[i, o]


@numba.njit(fastmath=REDUCE_FLAGS, **JIT)
def _dense_reduce(wt, b, x, y):
    """As _dense_broadcast with the kernel transposed (n_out x n_in): one vectorised dot product per output."""
    n_in, n_out = x.shape[1], y.shape[1]
    for t in range(x.shape[0]):
        o = 0
        while o + 4 <= n_out:  # four outputs share each load of x
            # accumulators start at the bias: typed like the weights (a 0.0 literal would be float64)
            a0, a1, a2, a3 = b[o], b[o + 1], b[o + 2], b[o + 3]
            for i in range(n_in):
                v = x[t, i]
                a0 += wt[o, i] * v
                a1 += wt[o + 1, i] * v
                a2 += wt[o + 2, i] * v
                a3 += wt[o + 3, i] * v
            y[t, o] = a0
            y[t, o + 1] = a1
            y[t, o + 2] = a2
            y[t, o + 3] = a3
            o += 4
        while o < n_out:
            a0 = b[o]
            for i in range(n_in):
                a0 += wt[o, i] * x[t, i]
            y[t, o] = a0
            o += 1


@numba.njit(fastmath=FLAGS, inline="always", **JIT)
def _matvec_add(w, v, acc):
    """acc += v @ w, w (v.size x acc.size) C-contiguous, rows of w vectorised over acc.

    Eight (then four, then one) rows per pass over acc: an eighth of the loads and stores of
    acc (store bandwidth, not the multiply-adds, is what limits small recurrent layers).
    """
    n, width = v.shape[0], acc.shape[0]
    i = 0
    while i + 8 <= n:
        v0, v1, v2, v3, v4, v5, v6, v7 = v[i], v[i + 1], v[i + 2], v[i + 3], v[i + 4], v[i + 5], v[i + 6], v[i + 7]
        w0, w1, w2, w3, w4, w5, w6, w7 = w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], w[i + 5], w[i + 6], w[i + 7]
        for g in range(width):
            acc[g] += ((v0 * w0[g] + v1 * w1[g]) + (v2 * w2[g] + v3 * w3[g])) + (
                (v4 * w4[g] + v5 * w5[g]) + (v6 * w6[g] + v7 * w7[g])
            )
        i += 8
    while i + 4 <= n:
        v0, v1, v2, v3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        w0, w1, w2, w3 = w[i], w[i + 1], w[i + 2], w[i + 3]
        for g in range(width):
            acc[g] += (v0 * w0[g] + v1 * w1[g]) + (v2 * w2[g] + v3 * w3[g])
        i += 4
    while i < n:
        hv = v[i]
        wi = w[i]
        for g in range(width):
            acc[g] += hv * wi[g]
        i += 1


@numba.njit(fastmath=FLAGS, inline="always", **JIT)
def _input_terms(wk, b, x, t, acc):
    """acc = b + x[t] @ wk."""
    for g in range(acc.shape[0]):
        acc[g] = b[g]
    for i in range(x.shape[1]):
        v = x[t, i]
        for g in range(acc.shape[0]):
            acc[g] += v * wk[i, g]


@numba.njit(fastmath=FLAGS, **JIT)
def _activate(a, width, code):
    """Activation ``code`` (activation.CODES) over the flat ``a`` in place; rows of ``width`` for softmax."""
    n = a.shape[0]
    if code == 1:
        for i in range(n):
            a[i] = vecmath.tanh_of(a[i])
    elif code == 2:
        for i in range(n):
            a[i] = max(a[i], 0.0)
    elif code == 3:
        for i in range(n):
            a[i] = vecmath.sigmoid_of(a[i])
    elif code == 4:
        for r in range(0, n, width):
            peak = -np.inf
            for i in range(width):
                peak = max(peak, a[r + i])
            total = 0.0
            for i in range(width):
                a[r + i] = math.exp(a[r + i] - peak)
                total += a[r + i]
            for i in range(width):
                a[r + i] /= total
    elif code == 5:
        for i in range(n):
            if a[i] < 0.0:
                a[i] = math.expm1(a[i])


# Loops below index views that start at 0 (hz_r[u], not hz[n + u]): with an offset the
# index could be negative as far as LLVM knows, and the loop would stay scalar.


@numba.njit(fastmath=FLAGS, **JIT)
def _gru(wk, wr, wr_c, b_in, b_rec, reset_after, h, xz, hz, rh, x, y):
    """Keras GRU over the rows of x into y; h (n) carried; xz, hz (3n) and rh (n) scratch.

    reset_after: wr is the whole recurrent kernel (n x 3n). Otherwise wr holds its z and r
    columns (n x 2n) and wr_c its candidate columns (n x n).
    """
    n = h.shape[0]
    xz_zr, xz_c = xz[: 2 * n], xz[2 * n :]
    hz_zr, hz_z, hz_r, hz_c = hz[: 2 * n], hz[:n], hz[n : 2 * n], hz[2 * n :]
    for t in range(x.shape[0]):
        _input_terms(wk, b_in, x, t, xz)
        if reset_after:
            for g in range(3 * n):
                hz[g] = b_rec[g]
            _matvec_add(wr, h, hz)
            for u in range(2 * n):
                hz_zr[u] = vecmath.sigmoid_of(xz_zr[u] + hz_zr[u])
            for u in range(n):
                hz_c[u] = vecmath.tanh_of(xz_c[u] + hz_r[u] * hz_c[u])
        else:
            for g in range(2 * n):
                hz_zr[g] = 0.0
            _matvec_add(wr, h, hz_zr)
            for u in range(2 * n):
                hz_zr[u] = vecmath.sigmoid_of(xz_zr[u] + hz_zr[u])
            for u in range(n):
                rh[u] = hz_r[u] * h[u]
                hz_c[u] = 0.0
            _matvec_add(wr_c, rh, hz_c)
            for u in range(n):
                hz_c[u] = vecmath.tanh_of(xz_c[u] + hz_c[u])
        for u in range(n):  # z h + (1 - z) c, written without a (float64) literal
            h[u] = hz_c[u] + hz_z[u] * (h[u] - hz_c[u])
        for u in range(n):
            y[t, u] = h[u]


@numba.njit(fastmath=FLAGS, **JIT)
def _lstm(wk, wr, b, scale, shift, h, c, gates, x, y):
    """Keras LSTM over the rows of x into y; h, c (n) carried; gates (4n) scratch.

    scale, shift (4n): 1, 0 for the sigmoid gates and 2, 1 for the candidate, whose
    tanh(x) = 2 sigmoid(2x) - 1: all four gates in one vectorised pass.
    """
    n = h.shape[0]
    g_i, g_f, g_c, g_o = gates[:n], gates[n : 2 * n], gates[2 * n : 3 * n], gates[3 * n :]
    for t in range(x.shape[0]):
        _input_terms(wk, b, x, t, gates)
        _matvec_add(wr, h, gates)
        for u in range(4 * n):
            gates[u] = vecmath.sigmoid_of(gates[u] * scale[u]) * scale[u] - shift[u]
        for u in range(n):
            cell = g_f[u] * c[u] + g_i[u] * g_c[u]
            c[u] = cell
            h[u] = g_o[u] * vecmath.tanh_of(cell)
        for u in range(n):
            y[t, u] = h[u]


@numba.njit(fastmath=FLAGS, inline="always", **JIT)
def _conv_outputs4(w, b, dilation, hist, ycm, steps, c_first, o):
    """Outputs o..o+3 of a conv (see _conv1d) over ``steps``, reading input channels from c_first.

    Rows r = j * ipg + ci of (tap, channel) pairs, four per pass; output t reads input
    t - (k-1-j)*dilation, i.e. column t + j*dilation of hist. Unsigned columns (no views: a
    view costs two reference-count calls) keep the loop over t vectorised.
    """
    k, ipg, n_out = w.shape
    taps = k * ipg
    for t in range(steps):
        ycm[o, t] = b[o]
        ycm[o + 1, t] = b[o + 1]
        ycm[o + 2, t] = b[o + 2]
        ycm[o + 3, t] = b[o + 3]
    r = 0
    while r < taps:
        n = min(4, taps - r)
        # rows past the last are row r again with zero weights: one loop body for every pass
        j0, c0 = r // ipg, r % ipg
        j1, c1 = (r + 1) // ipg if n > 1 else j0, (r + 1) % ipg if n > 1 else c0
        j2, c2 = (r + 2) // ipg if n > 2 else j0, (r + 2) % ipg if n > 2 else c0
        j3, c3 = (r + 3) // ipg if n > 3 else j0, (r + 3) % ipg if n > 3 else c0
        zero = w[j0, c0, o] - w[j0, c0, o]  # typed like the weights
        none = (zero, zero, zero, zero)
        a0, b0, e0, f0 = w[j0, c0, o], w[j0, c0, o + 1], w[j0, c0, o + 2], w[j0, c0, o + 3]
        a1, b1, e1, f1 = (w[j1, c1, o], w[j1, c1, o + 1], w[j1, c1, o + 2], w[j1, c1, o + 3]) if n > 1 else none
        a2, b2, e2, f2 = (w[j2, c2, o], w[j2, c2, o + 1], w[j2, c2, o + 2], w[j2, c2, o + 3]) if n > 2 else none
        a3, b3, e3, f3 = (w[j3, c3, o], w[j3, c3, o + 1], w[j3, c3, o + 2], w[j3, c3, o + 3]) if n > 3 else none
        c0, c1, c2, c3 = c0 + c_first, c1 + c_first, c2 + c_first, c3 + c_first
        d0, d1, d2, d3 = j0 * dilation, j1 * dilation, j2 * dilation, j3 * dilation
        for t in range(steps):
            h0 = hist[c0, np.uint64(d0 + t)]
            h1 = hist[c1, np.uint64(d1 + t)]
            h2 = hist[c2, np.uint64(d2 + t)]
            h3 = hist[c3, np.uint64(d3 + t)]
            ycm[o, t] += (a0 * h0 + a1 * h1) + (a2 * h2 + a3 * h3)
            ycm[o + 1, t] += (b0 * h0 + b1 * h1) + (b2 * h2 + b3 * h3)
            ycm[o + 2, t] += (e0 * h0 + e1 * h1) + (e2 * h2 + e3 * h3)
            ycm[o + 3, t] += (f0 * h0 + f1 * h1) + (f2 * h2 + f3 * h3)
        r += 4


@numba.njit(fastmath=FLAGS, inline="always", **JIT)
def _conv_output1(w, b, dilation, hist, ycm, steps, c_first, o):
    """Output o alone, as _conv_outputs4 (for output counts per group that are not a multiple of 4)."""
    k, ipg, n_out = w.shape
    for t in range(steps):
        ycm[o, t] = b[o]
    for r in range(k * ipg):
        j, c = r // ipg, r % ipg
        wv, d, ch = w[j, c, o], j * dilation, c_first + c
        for t in range(steps):
            ycm[o, t] += wv * hist[ch, np.uint64(d + t)]


@numba.njit(fastmath=FLAGS, **JIT)
def _conv1d(w, b, dilation, groups, hist, ycm, x, y, ready, act, nxt_hist, nxt_span):
    """Causal dilated grouped conv of x (steps x n_in) into y (steps x n_out), then activation ``act``.

    hist (n_in x (span + chunk)): each channel's last ``span`` inputs then this chunk's, channel-major
    so that every tap reads a contiguous run of steps; ycm (n_out x chunk) scratch. ``ready``: the
    previous conv already wrote this chunk into hist (x is not read). ``nxt_span`` >= 0: the next layer
    is a conv whose hist is ``nxt_hist``; the outputs go straight there, channel-major (y is not
    written), saving two transpositions.
    """
    steps, n_in = x.shape
    k, ipg, n_out = w.shape
    span = (k - 1) * dilation
    opg = n_out // groups
    if not ready:
        for t in range(steps):
            for ch in range(n_in):
                hist[ch, np.uint64(span + t)] = x[t, ch]
    for g in range(groups):
        o = g * opg
        while o + 4 <= (g + 1) * opg:  # four outputs per pass share every load of the input
            _conv_outputs4(w, b, dilation, hist, ycm, steps, g * ipg, o)
            o += 4
        while o < (g + 1) * opg:
            _conv_output1(w, b, dilation, hist, ycm, steps, g * ipg, o)
            o += 1
    if nxt_span >= 0:
        for o in range(n_out):
            row = ycm[o, :steps]
            _activate(row, steps, act)
            for t in range(steps):
                nxt_hist[o, np.uint64(nxt_span + t)] = row[t]
    else:
        for t in range(steps):
            for o in range(n_out):
                y[t, o] = ycm[o, t]
        _activate(y.reshape(-1), n_out, act)
    for ch in range(n_in):  # the newest ``span`` inputs become the history
        for s in range(span):
            hist[ch, s] = hist[ch, np.uint64(steps + s)]


# inlined by Numba into run_vector and run_block: compiled on its own, its library was optimised and
# turned into machine code once more than needed (the backend's cold compile: 7.2 -> 6.2 s of CPU)
@numba.njit(fastmath=FLAGS, inline="always", **JIT)
def _chunk(ops, w, m, steps, conv, gru, lstm):
    """Run every layer over the ``steps`` rows in buffer A; returns the offset of the output rows.

    ``conv``, ``gru``, ``lstm``: None compiles the kernel without that layer kind (see ``Plan.kinds``).
    """
    chunk = ops[0, H_CHUNK]
    src, dst = ops[0, H_BUF_A], ops[0, H_BUF_B]
    ready = False  # the previous conv wrote this layer's input into its history buffer
    for layer in range(1, ops[0, H_LAYERS] + 1):
        op = ops[layer]
        kind = op[KIND]
        n_in, n_out = op[N_IN], op[N_OUT]
        x = m[src : src + steps * n_in].reshape((steps, n_in))
        y = m[dst : dst + steps * n_out].reshape((steps, n_out))
        wo, bo = op[W], op[B]
        if kind == DENSE:
            if op[X0] == 1:
                _dense_reduce(w[wo : wo + n_in * n_out].reshape((n_out, n_in)), w[bo : bo + n_out], x, y)
            else:
                _dense_broadcast(w[wo : wo + n_in * n_out].reshape((n_in, n_out)), w[bo : bo + n_out], x, y)
            _activate(m[dst : dst + steps * n_out], n_out, op[ACT])
            src, dst = dst, src
        elif kind == ACTIVATION:
            _activate(m[src : src + steps * n_in], n_in, op[ACT])
        elif kind == BATCHNORM:
            scale, shift = w[wo : wo + n_in], w[bo : bo + n_in]
            for t in range(steps):
                for i in range(n_in):
                    x[t, i] = x[t, i] * scale[i] + shift[i]
        elif kind == PRELU:
            alpha = w[wo : wo + n_in]
            for t in range(steps):
                for i in range(n_in):
                    v = x[t, i]
                    x[t, i] = v if v >= 0.0 else alpha[i] * v
        elif kind == CONV1D and conv is not None:
            k, groups = op[X0], op[X2]
            row_len = (k - 1) * op[X1] + chunk
            kernel = w[wo : wo + k * (n_in // groups) * n_out].reshape((k, n_in // groups, n_out))
            hist = m[op[STATE] : op[STATE] + n_in * row_len].reshape((n_in, row_len))
            ycm = m[op[X3] : op[X3] + n_out * chunk].reshape((n_out, chunk))
            nxt_hist, nxt_span = hist, -1
            if layer < ops[0, H_LAYERS] and ops[layer + 1, KIND] == CONV1D and op[ACT] != 4:  # not softmax
                nxt = ops[layer + 1]
                nxt_span = (nxt[X0] - 1) * nxt[X1]
                nxt_len = nxt_span + chunk
                nxt_hist = m[nxt[STATE] : nxt[STATE] + n_out * nxt_len].reshape((n_out, nxt_len))
            _conv1d(kernel, w[bo : bo + n_out], op[X1], groups, hist, ycm, x, y, ready, op[ACT], nxt_hist, nxt_span)
            ready = nxt_span >= 0
            src, dst = dst, src
        elif kind == GRU_KIND and gru is not None:
            n, s, wr, wide = n_out, op[X3], op[X0], 3 * n_out if op[X2] else 2 * n_out
            wc = wr if op[X2] else wr + n * wide  # the candidate columns (only without reset_after)
            _gru(
                w[wo : wo + n_in * 3 * n].reshape((n_in, 3 * n)),
                w[wr : wr + n * wide].reshape((n, wide)),
                w[wc : wc + n * n].reshape((n, n)),
                w[bo : bo + 3 * n],
                w[op[X1] : op[X1] + 3 * n],
                op[X2] != 0,
                m[op[STATE] : op[STATE] + n],
                m[s : s + 3 * n],
                m[s + 3 * n : s + 6 * n],
                m[s + 6 * n : s + 7 * n],
                x,
                y,
            )
            src, dst = dst, src
        elif kind == LSTM_KIND and lstm is not None:
            n, h = n_out, op[STATE]
            _lstm(
                w[wo : wo + n_in * 4 * n].reshape((n_in, 4 * n)),
                w[op[X0] : op[X0] + n * 4 * n].reshape((n, 4 * n)),
                w[bo : bo + 4 * n],
                w[op[X1] : op[X1] + 4 * n],
                w[op[X1] + 4 * n : op[X1] + 8 * n],
                m[h : h + n],
                m[h + n : h + 2 * n],
                m[op[X3] : op[X3] + 4 * n],
                x,
                y,
            )
            src, dst = dst, src
    return src


@numba.njit(fastmath=FLAGS, **JIT)
def run_block(ops, w, m, x, out, conv, gru, lstm):
    """Rows of ``x`` (steps x inputs, any float dtype) through the plan as consecutive steps into ``out``.

    Raises ValueError when the shapes do not match the plan. Carries the state in ``m`` across calls.
    ``conv``, ``gru``, ``lstm``: the plan's ``kinds`` (0 for a kind it has, None for one it has not: each
    None leaves that layer's kernel out of the compiled code, seconds of compilation less per kind).
    """
    n_in, n_out, chunk = ops[0, H_IN], ops[0, H_OUT], ops[0, H_CHUNK]
    steps = x.shape[0]
    if x.shape[1] != n_in:
        raise ValueError("rtneural: input has the wrong number of features for this model")
    if out.shape[0] != steps or out.shape[1] != n_out:
        raise ValueError("rtneural: output array has the wrong shape for this model")
    a = ops[0, H_BUF_A]
    for start in range(0, steps, chunk):
        count = min(chunk, steps - start)
        buf = m[a : a + count * n_in].reshape((count, n_in))
        for t in range(count):
            for i in range(n_in):
                buf[t, i] = x[start + t, i]
        res = _chunk(ops, w, m, count, conv, gru, lstm)
        y = m[res : res + count * n_out].reshape((count, n_out))
        for t in range(count):
            for o in range(n_out):
                out[start + t, o] = y[t, o]


@numba.njit(fastmath=FLAGS, **JIT)
def run_vector(ops, w, m, x, out, conv, gru, lstm):
    """One step: ``x`` (inputs,) -> ``out`` (outputs,), as run_block (any layout: no reshape of x)."""
    n_in, n_out, a = ops[0, H_IN], ops[0, H_OUT], ops[0, H_BUF_A]
    if x.shape[0] != n_in:
        raise ValueError("rtneural: input has the wrong number of features for this model")
    if out.shape[0] != n_out:
        raise ValueError("rtneural: output array has the wrong shape for this model")
    buf = m[a : a + n_in]
    for i in range(n_in):
        buf[i] = x[i]
    res = _chunk(ops, w, m, 1, conv, gru, lstm)
    y = m[res : res + n_out]
    for o in range(n_out):
        out[o] = y[o]


# ---- building a plan from layer objects ----

COVERED = (Dense, Activation, Conv1D, BatchNorm, PReLU, GRU, LSTM)
# float64: RTNeural's double-precision conformance. float32: RTNeural's own default type, twice the
# SIMD lanes; weights rounded to float32 and every sum in float32 (errors ~1e-7 relative per layer)
PRECISIONS = {"float64": np.float64, "float32": np.float32}


def covers(layer) -> bool:
    """Whether ``layer`` (a loaded layer object) can be part of a Plan."""
    return type(layer) in COVERED


class _Layout:
    def __init__(self):
        self.weights: list[np.ndarray] = []
        self.w_size = 0
        self.state = 0
        self.scratch: list[int] = []  # sizes, placed after the state

    def weight(self, a: np.ndarray) -> int:
        offset = self.w_size
        flat = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
        self.weights.append(flat)
        self.w_size += flat.size
        return offset

    def state_block(self, size: int) -> int:
        offset = self.state
        self.state += size
        return offset


class Plan:
    """Layers (all ``covers``-ed) as one fused kernel; the same streaming contract as the layers.

    ``forward_block(x)`` -> float64 (steps, outputs); ``run(x, out)`` writes into a caller's array
    (float32 or float64) without allocating; ``reset()`` zeroes the state. ``precision``: a key
    of ``PRECISIONS`` (ValueError otherwise); TypeError for a layer it does not cover. Not
    thread-safe: one caller at a time, as for the layers.
    """

    def __init__(self, layers: list, input_size: int, precision: str = "float64"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        dtype = PRECISIONS[precision]
        lay = _Layout()
        rows = []
        scratch_after: list[tuple[int, int]] = []  # (row index, size) of per-layer scratch
        size, width = input_size, input_size
        for layer in layers:
            if not covers(layer):
                raise TypeError(f"{type(layer).__name__} layers are not covered by the fused plan")
            op = np.zeros(COLUMNS, dtype=np.int64)
            op[N_IN] = size
            op[N_OUT] = layer.out_size
            if isinstance(layer, Dense):
                op[KIND] = DENSE
                reduce = size >= 16 or layer.out_size < 8
                op[X0] = int(reduce)
                op[W] = lay.weight(layer.w.T if reduce else layer.w)
                op[B] = lay.weight(layer.b)
                op[ACT] = layer.code
            elif isinstance(layer, Activation):
                op[KIND], op[ACT] = ACTIVATION, layer.code
            elif isinstance(layer, BatchNorm):
                op[KIND], op[W], op[B] = BATCHNORM, lay.weight(layer.scale), lay.weight(layer.shift)
            elif isinstance(layer, PReLU):
                op[KIND], op[W] = PRELU, lay.weight(layer.alpha)
            elif isinstance(layer, Conv1D):
                k = layer.w.shape[0]
                op[KIND], op[W], op[B], op[ACT] = CONV1D, lay.weight(layer.w), lay.weight(layer.b), layer.code
                op[X0], op[X1], op[X2] = k, layer.dilation, layer.groups
                op[STATE] = lay.state_block(size * ((k - 1) * layer.dilation + CHUNK))
                scratch_after.append((len(rows), layer.out_size * CHUNK))
            elif isinstance(layer, GRU):
                n = layer.out_size
                op[KIND], op[W] = GRU_KIND, lay.weight(layer.wk)
                if layer.reset_after:
                    op[X0] = lay.weight(layer.wr)
                else:  # z and r columns, then the candidate's, each block contiguous
                    op[X0] = lay.weight(layer.wr[:, : 2 * n])
                    lay.weight(layer.wr[:, 2 * n :])
                op[B], op[X1], op[X2] = lay.weight(layer.b_in), lay.weight(layer.b_rec), int(layer.reset_after)
                op[STATE] = lay.state_block(n)
                scratch_after.append((len(rows), 7 * n))
            elif isinstance(layer, LSTM):
                n = layer.out_size
                op[KIND], op[W], op[X0] = LSTM_KIND, lay.weight(layer.wk), lay.weight(layer.wr)
                op[B] = lay.weight(layer.b)
                candidate = np.zeros(4 * n, dtype=bool)
                candidate[2 * n : 3 * n] = True
                op[X1] = lay.weight(np.where(candidate, 2.0, 1.0))
                lay.weight(np.where(candidate, 1.0, 0.0))
                op[STATE] = lay.state_block(2 * n)
                scratch_after.append((len(rows), 4 * n))
            rows.append(op)
            size = layer.out_size
            width = max(width, size)
        offset = lay.state
        for index, need in scratch_after:
            rows[index][X3] = offset
            offset += need
        header = np.zeros(COLUMNS, dtype=np.int64)
        header[H_LAYERS], header[H_IN], header[H_OUT], header[H_CHUNK] = len(rows), input_size, size, CHUNK
        header[H_STATE] = lay.state
        header[H_BUF_A], header[H_BUF_B] = offset, offset + CHUNK * width
        offset += 2 * CHUNK * width
        self.ops = np.ascontiguousarray(np.stack([header, *rows]))
        self.weights = (np.concatenate(lay.weights) if lay.weights else np.zeros(1)).astype(dtype)
        self.mem = np.zeros(offset, dtype=dtype)
        self.precision = precision
        present = {int(row[KIND]) for row in rows}
        # (conv, gru, lstm): 0 where the plan has the kind, None where not: the kernels' last three arguments
        self.kinds = tuple(0 if kind in present else None for kind in (CONV1D, GRU_KIND, LSTM_KIND))
        self.state_size = lay.state
        self.input_size, self.output_size = input_size, size

    def reset(self) -> None:
        self.mem[: self.state_size] = 0.0

    def warm_up(self, blocks: bool = False) -> None:
        """Compile (or load from Numba's cache) the entry points ``Model`` calls, then reset.

        A compile takes seconds: done at load, it never lands on the inference thread. Warms the one
        entry the live client and the offline render call (one float32 vector, ``infer``); with
        ``blocks`` also float32 and float64 blocks to float32 (``infer_block``: evaluation, training,
        ``model run``), each a further top-level compile that a start need not wait for.
        """
        args, kinds = (self.ops, self.weights, self.mem), self.kinds
        run_vector(*args, np.zeros(self.input_size, np.float32), np.empty(self.output_size, np.float32), *kinds)
        for dtype in (np.float32, np.float64) if blocks else ():
            x = np.zeros((1, self.input_size), dtype)
            run_block(*args, x, np.empty((1, self.output_size), np.float32), *kinds)
        self.reset()

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        """(steps, inputs) -> ``out`` (steps, outputs), float32 or float64, C-contiguous; raises ValueError."""
        run_block(self.ops, self.weights, self.mem, x, out, *self.kinds)

    def forward_block(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x).reshape(-1, self.input_size)
        out = np.empty((x.shape[0], self.output_size))
        run_block(self.ops, self.weights, self.mem, x, out, *self.kinds)
        return out


def stages(layers: list, input_size: int, precision: str = "float64") -> list:
    """``layers`` with each maximal run of covered layers replaced by one Plan of it."""
    out, run, size, run_in = [], [], input_size, input_size
    for layer in [*layers, None]:
        if layer is not None and covers(layer):
            if not run:
                run_in = size
            run.append(layer)
        else:
            if run:
                out.append(Plan(run, run_in, precision))
                run = []
            if layer is not None:
                out.append(layer)
        if layer is not None:
            size = layer.out_size
    return out
