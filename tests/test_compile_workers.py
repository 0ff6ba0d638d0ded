"""A cold Numba cache compiles the kernel groups in worker processes; the process that started them loads them.

Each flow runs kelly-jack in a fresh process with its own empty ``NUMBA_CACHE_DIR``, under a probe that records
every kelly kernel that process compiles and how many compile workers it started."""

from __future__ import annotations

import ast
import fcntl
import io
import os
import select
import subprocess
import sys
import threading
import time

import pytest

from kelly_jack import compile_workers

from support.jackd import ROOT, wait_until

CONFIG = str(ROOT / "config" / "studio.yaml")

PROBE = """
import sys
from numba.core import event
from kelly_jack import compile_workers
from kelly_jack.warm import CompileAnnouncer
kill = sys.argv.pop(1)
if kill:  # the worker of this group kills itself with SIGKILL, as the OOM killer would
    compile_workers._WORKER = (
        f"import os, signal, sys\\nif sys.argv[2] == {kill!r}: os.kill(os.getpid(), signal.SIGKILL)\\n"
        + compile_workers._WORKER
    )
compiled = []
event.register("numba:compile", CompileAnnouncer(on_kernel=compiled.append))
from kelly_jack.cli import main
code = main(sys.argv[1:])
workers = compile_workers.last_run["workers"]
print("PROBE", repr({"code": code, "compiled": compiled, "workers": workers}), file=sys.stderr)
"""


def run(cache, *argv, kill: str = "") -> tuple[dict, str]:
    """Run kelly-jack ``argv`` under the probe with ``cache`` as Numba's cache; (probe record, stderr)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("KELLY_JACK_COMPILE_WORKERS", None)
    r = subprocess.run(
        [sys.executable, "-c", PROBE, kill, *argv], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900
    )
    lines = [s for s in r.stderr.splitlines() if s.startswith("PROBE ")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    return ast.literal_eval(lines[-1][6:]), r.stderr


def render(cache, tmp_path, kill: str = "") -> tuple[dict, str]:
    import numpy as np
    import soundfile

    clip = tmp_path / "clip.wav"
    if not clip.exists():
        t = np.arange(24000) / 48000.0
        soundfile.write(clip, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    return run(cache, "render", str(clip), "-o", str(tmp_path / "out.mid"), "--config", CONFIG, kill=kill)


def test_a_parallel_warm_fills_the_cache_so_that_the_next_process_compiles_nothing(tmp_path):
    cache = tmp_path / "numba"
    warm, err = run(cache, "warm", "--config", CONFIG)
    assert warm["code"] == 0 and warm["workers"] == 3, err  # backend, engine, features: side by side
    # the three heavy kernels came from the workers (their names in warm's progress), not from this process
    for name in ("backends.rtneural.fused.run_vector", "jack.process.process_period", "rt.features.extractor.extract"):
        assert f"kelly-jack warm: compiling {name}" in err
        assert name not in warm["compiled"], warm["compiled"]
    after, err = render(cache, tmp_path)
    assert after == {"code": 0, "compiled": [], "workers": 0}, err  # every kernel, cfuncs included, from the cache


def test_a_worker_that_dies_leaves_its_kernels_to_the_process_with_a_line_saying_so(tmp_path):
    cache = tmp_path / "numba"
    first, err = render(cache, tmp_path, kill="engine")
    assert first["code"] == 0 and first["workers"] == 3, err
    assert (
        "kelly-jack: the compile worker for engine failed (killed by signal 9); compiling its kernels in this "
        "process instead" in err
    )
    assert "jack.process.process_period" in first["compiled"]  # the dead worker's group, compiled here
    assert "backends.rtneural.fused.run_vector" not in first["compiled"]  # the others came from their workers
    assert "rt.features.extractor.extract" not in first["compiled"]
    again, err = render(cache, tmp_path)
    assert again == {"code": 0, "compiled": [], "workers": 0}, err


def test_precompile_reports_a_failed_worker_and_never_raises(tmp_path):
    out = io.StringIO()
    codes = compile_workers.precompile(
        {}, out, groups=["engine", "features"], argv=[sys.executable, "-c", "import sys; sys.exit(3)"]
    )
    assert codes == {"engine": 3, "features": 3}
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all("failed (exit code 3" in s and "compiling its kernels in this" in s for s in lines)


def test_no_worker_outlives_its_parent(tmp_path):
    pids = tmp_path / "pids"
    worker = (
        "import os, sys, time; sys.path.insert(0, sys.argv.pop(1)); "
        "from kelly_jack.compile_workers import _die_with_parent; _die_with_parent(int(sys.argv[2])); "
        f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(120)"
    )
    parent = (
        "import sys; sys.path.insert(0, sys.argv[1]); from kelly_jack import compile_workers; "
        f"compile_workers.precompile({{}}, groups=['engine', 'features'], argv=[sys.executable, '-c', {worker!r}, "
        "sys.argv[1]])"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent, str(ROOT)])
    try:
        assert wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, 60)
        workers = [int(p) for p in pids.read_text().split()]
    finally:
        proc.kill()  # SIGKILL: the parent cannot stop them itself
        proc.wait()

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie until init reaps it
        except FileNotFoundError:
            return True

    assert wait_until(lambda: all(gone(p) for p in workers), 10), workers


def test_cache_saves_wait_for_the_lock_on_the_cache_folder(tmp_path):
    from numba.core import caching

    compile_workers.lock_cache_writes()
    index = caching.IndexDataCacheFile(str(tmp_path), "k.f-1.py311", ("stamp",))
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process saving into this folder
    t = threading.Thread(target=index.save, args=(("sig",), b"data"))
    t.start()
    time.sleep(0.3)
    assert t.is_alive() and not (tmp_path / "k.f-1.py311.nbi").exists()
    os.close(fd)
    t.join(10)
    assert not t.is_alive() and index.load(("sig",)) == b"data"


@pytest.mark.parametrize("stale", ["version", "stamp", "empty"])
def test_a_stale_or_empty_index_is_not_taken_as_cached(tmp_path, monkeypatch, stale):
    import pickle

    import numba

    source = tmp_path / "extractor.py"
    source.write_text("def extract(): pass\n")
    stamps = compile_workers._source_stamps(str(source))
    index = tmp_path / "extractor.extract-64.py311.nbi"
    version = numba.__version__ if stale != "version" else "0.1"
    overloads = {} if stale == "empty" else {("sig",): "extractor.extract-64.py311.1.nbc"}
    stamp = stamps[0] if stale != "stamp" else b"other"
    with open(index, "wb") as f:
        pickle.dump(version, f)
        f.write(pickle.dumps((stamp, overloads)))
    assert not compile_workers._index_fresh(str(index), stamps, numba.__version__)
    with open(index, "wb") as f:
        pickle.dump(numba.__version__, f)
        f.write(pickle.dumps((stamps[0], {("sig",): "x.1.nbc"})))
    assert compile_workers._index_fresh(str(index), stamps, numba.__version__)


def test_a_bad_config_is_reported_once_by_the_process_not_by_its_workers(tmp_path):
    cfg = tmp_path / "k.yaml"
    cfg.write_text("backend: {name: rtneural, model: /nonexistent.json}\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "kelly_jack", "render", "in.wav", "-o", str(tmp_path / "o.mid"), "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "nonexistent" in r.stderr, r.stderr


def read_all(fd: int) -> bytes:
    """Everything written to the pty so far: a read returns one chunk (often one line), so read until none is left."""
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def test_on_a_terminal_the_start_says_it_compiles_in_workers_and_how_it_went():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            worker = 'import sys; sys.exit(0 if sys.argv[1] == "engine" else 5)'
            argv = [sys.executable, "-c", worker]
            codes = compile_workers.precompile({}, tty, groups=["engine", "features"], argv=argv)
        lines = read_all(master).decode().splitlines()
    finally:
        os.close(master)
        os.close(slave)
    assert codes == {"engine": 0, "features": 5}
    assert lines[0].startswith("kelly-jack: compiling 2 kernel groups (engine, features) in 2 worker processes (")
    assert "the compile worker for features failed (exit code 5" in lines[1]
    assert lines[2].startswith("kelly-jack: 1 of 2 kernel groups compiled in ") and len(lines) == 3
