"""Real-time kernels: pure Numba functions over preallocated arrays.

Nothing here imports from the rest of the package, so every kernel can be
tested (and reused offline or in training) without JACK.
"""
