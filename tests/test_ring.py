"""SPSC rings: wrap-around, overflow, records, and a two-thread stress test in nogil kernels."""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest

from kelly_jack.rt import ring

MODULUS = 65521  # values written are position % MODULUS: exact in float32


def test_capacity_must_be_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        ring.new_header(12)
    with pytest.raises(ValueError):
        ring.new_header(1)
    assert ring.new_header(16)[ring.H_CAPACITY] == 16


def test_wrap_around_keeps_order():
    hdr = ring.new_header(8)
    data = np.zeros(8, dtype=np.float32)
    out = np.zeros(8, dtype=np.float32)
    expected = 0.0
    written = 0
    for chunk in (5, 6, 7, 3, 8, 1):
        src = np.arange(written, written + chunk, dtype=np.float32)
        assert ring.write_all(hdr, data, src, chunk)
        written += chunk
        n = ring.read(hdr, data, out, 8)
        assert n == chunk
        assert np.array_equal(out[:n], np.arange(expected, expected + n, dtype=np.float32))
        expected += n
    assert hdr[ring.H_WRITE] == hdr[ring.H_READ] == written  # positions keep growing past capacity
    assert hdr[ring.H_OVERFLOW] == 0


def test_write_all_counts_overflow_and_writes_nothing():
    hdr = ring.new_header(8)
    data = np.zeros(8, dtype=np.float32)
    assert ring.write_all(hdr, data, np.ones(6, dtype=np.float32), 6)
    assert not ring.write_all(hdr, data, np.full(3, 7.0, dtype=np.float32), 3)
    assert hdr[ring.H_OVERFLOW] == 3
    assert hdr[ring.H_WRITE] == 6
    out = np.zeros(8, dtype=np.float32)
    assert ring.read(hdr, data, out, 8) == 6
    assert np.all(out[:6] == 1.0)


def test_try_write_is_partial_and_does_not_count():
    hdr = ring.new_header(4)
    data = np.zeros(4, dtype=np.float32)
    assert ring.try_write(hdr, data, np.arange(6, dtype=np.float32), 6) == 4
    assert ring.try_write(hdr, data, np.arange(6, dtype=np.float32), 6) == 0
    assert hdr[ring.H_OVERFLOW] == 0
    out = np.zeros(4, dtype=np.float32)
    assert ring.read(hdr, data, out, 4) == 4
    assert list(out) == [0, 1, 2, 3]
    assert ring.read(hdr, data, out, 4) == 0


def test_records_peek_pop_and_overflow():
    hdr = ring.new_header(2)
    data = np.zeros((2, 3))
    assert ring.record_peek(hdr, data) == -1
    assert ring.record_push(hdr, data, np.array([1.0, 2, 3]))
    assert ring.record_push(hdr, data, np.array([4.0, 5, 6]))
    assert not ring.record_push(hdr, data, np.array([7.0, 8, 9]))
    assert hdr[ring.H_OVERFLOW] == 1
    row = ring.record_peek(hdr, data)
    assert list(data[row]) == [1, 2, 3]
    assert ring.record_peek(hdr, data) == row  # peeking does not consume
    ring.record_pop(hdr)
    assert list(data[ring.record_peek(hdr, data)]) == [4, 5, 6]
    ring.record_pop(hdr)
    assert ring.record_peek(hdr, data) == -1
    assert ring.record_push(hdr, data, np.array([7.0, 8, 9]))  # wraps into row 0
    assert list(data[ring.record_peek(hdr, data)]) == [7, 8, 9]


@numba.njit(nogil=True)
def _produce(hdr, data, total, seed):
    src = np.empty(4096, dtype=np.float32)
    pos = 0
    state = seed
    while pos < total:
        state = (state * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
        chunk = min(1 + (state >> 33) % 4096, total - pos)
        for i in range(chunk):
            src[i] = (pos + i) % MODULUS
        done = 0
        while done < chunk:  # spin: the consumer frees space
            done += ring.try_write(hdr, data, src[done:], chunk - done)
        pos += chunk
    return pos


@numba.njit(nogil=True)
def _consume(hdr, data, total, seed):
    dst = np.empty(4096, dtype=np.float32)
    pos = 0
    errors = 0
    state = seed
    while pos < total:
        state = (state * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
        want = 1 + (state >> 33) % 4096
        n = ring.read(hdr, data, dst, want)
        for i in range(n):
            if dst[i] != (pos + i) % MODULUS:
                errors += 1
        pos += n
    return pos, errors


def test_threaded_stress_moves_1e8_frames_without_loss_duplication_or_reordering():
    total = 100_000_000
    hdr = ring.new_header(1 << 14)
    data = np.zeros(1 << 14, dtype=np.float32)
    results = {}
    producer = threading.Thread(target=lambda: results.__setitem__("p", _produce(hdr, data, total, 7)))
    consumer = threading.Thread(target=lambda: results.__setitem__("c", _consume(hdr, data, total, 11)))
    _produce(ring.new_header(2), np.zeros(2, dtype=np.float32), 0, 1)  # compile before timing threads
    _consume(ring.new_header(2), np.zeros(2, dtype=np.float32), 0, 1)
    consumer.start()
    producer.start()
    producer.join(300)
    consumer.join(300)
    assert results["p"] == total
    received, errors = results["c"]
    assert received == total  # no loss, no duplication
    assert errors == 0  # every frame in order
    assert hdr[ring.H_WRITE] == hdr[ring.H_READ] == total
