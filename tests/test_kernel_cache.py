"""Numba's cache of kelly's kernels is dropped when any kernel source changed.

Numba itself only checks the file that defines a kernel, not the kernels it calls."""

from __future__ import annotations

import os

from kelly_jack import _kernel_cache


def package(tmp_path):
    """A package tree with kernel sources and Numba cache files beside them."""
    root = tmp_path / "kelly_jack"
    (root / "rt" / "features" / "__pycache__").mkdir(parents=True)
    (root / "jack").mkdir()
    (root / "rt" / "features" / "rhythm.py").write_text("def tempo(): pass\n")
    (root / "rt" / "features" / "extractor.py").write_text("def extract(): pass\n")
    (root / "cli.py").write_text("# not a kernel module\n")
    return root


def compiled(root) -> list[str]:
    return sorted(p.name for p in (root / "rt" / "features" / "__pycache__").glob("*.nb?"))


def compile_extract(root) -> None:
    """What Numba leaves after compiling ``extract`` (an index and its data)."""
    for name in ("extractor.extract-56.py311.nbi", "extractor.extract-56.py311.1.nbc"):
        (root / "rt" / "features" / "__pycache__" / name).write_bytes(b"compiled")


def test_a_changed_kernel_source_drops_the_cached_kernels_once(tmp_path):
    root = package(tmp_path)
    compile_extract(root)
    assert _kernel_cache.refresh(None, str(root))  # no stamp yet: a cache of unknown age is dropped
    assert compiled(root) == []
    compile_extract(root)
    assert not _kernel_cache.refresh(None, str(root))  # unchanged sources: the cache stays
    assert len(compiled(root)) == 2
    rhythm = root / "rt" / "features" / "rhythm.py"
    st = rhythm.stat()
    os.utime(rhythm, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the callee changed, not extractor.py
    assert _kernel_cache.refresh(None, str(root))
    assert compiled(root) == []
    compile_extract(root)
    (root / "cli.py").write_text("# edited\n")  # not a kernel module: no recompilation
    assert not _kernel_cache.refresh(None, str(root))
    assert len(compiled(root)) == 2


def test_under_numba_cache_dir_only_kellys_kernels_are_dropped(tmp_path):
    root = package(tmp_path / "src")
    cache = tmp_path / "cache"
    mine = cache / "src" / "kelly_jack" / "rt" / "features"
    other = cache / "src" / "librosa" / "core"
    for d in (mine, other):
        d.mkdir(parents=True)
        (d / "k.f-1.py311.nbi").write_bytes(b"x")
    assert _kernel_cache.refresh(str(cache), str(root))
    assert not (mine / "k.f-1.py311.nbi").exists()
    assert (other / "k.f-1.py311.nbi").exists()
    assert (cache / _kernel_cache.STAMP).read_text() == _kernel_cache.fingerprint(str(root))


def test_a_cache_it_cannot_write_is_left_alone(tmp_path):
    root = package(tmp_path)
    (tmp_path / "file").write_text("")
    assert _kernel_cache.refresh(str(tmp_path / "file"), str(root)) is False  # a file where a folder should be


def test_under_numba_cache_dir_kellys_hashed_cache_folders_are_dropped_too(tmp_path):
    """Numba >= 0.59 names a source folder's cache folder ``<name>_<sha1 of its path>``, with no kelly_jack in it."""
    import hashlib

    root = package(tmp_path / "src")
    cache = tmp_path / "cache"
    features = str((root / "rt" / "features").resolve())
    mine = cache / f"features_{hashlib.sha1(features.encode()).hexdigest()}"
    other = cache / f"features_{hashlib.sha1(b'/elsewhere/features').hexdigest()}"
    for d in (mine, other):
        d.mkdir(parents=True)
        (d / "extractor.extract-64.py311.nbi").write_bytes(b"x")
    assert _kernel_cache.refresh(str(cache), str(root))
    assert not (mine / "extractor.extract-64.py311.nbi").exists()
    assert (other / "extractor.extract-64.py311.nbi").exists()
