"""Offline tools: the same kernels as the live client, driven by audio files instead of JACK."""
