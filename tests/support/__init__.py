"""Helpers the tests share: private JACK and PipeWire servers, Numba cfunc test clients, signals, models."""
