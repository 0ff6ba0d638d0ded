"""Mixing the input ring down to the mono analysis window (nopython kernel, inference thread)."""

from __future__ import annotations

from .group import kernel


@kernel
def mix_to_mono(data, position, n, channel, out):
    """Mix ``n`` frames at absolute ring ``position`` of the (channels, capacity) ring into ``out``.

    ``channel < 0`` averages all channels; otherwise that channel is copied.
    """
    channels, capacity = data.shape
    mask = capacity - 1
    for i in range(n):
        j = (position + i) & mask
        if channel >= 0:
            out[i] = data[channel, j]
        else:
            acc = 0.0
            for c in range(channels):
                acc += data[c, j]
            out[i] = acc / channels
