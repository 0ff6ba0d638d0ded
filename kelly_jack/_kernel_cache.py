"""Keeping Numba's on-disk cache of kelly's kernels in step with their sources.

Numba checks a cached kernel against the file that defines it, but not
against the kernels it calls from other files: after an update that changes
``rt/features/rhythm.py`` only, the cached ``extract`` of ``extractor.py``
would go on running the old rhythm code. So kelly fingerprints every source
file of its kernel packages (path, size, modification time) and, when the
fingerprint differs from the one stamped in the cache, deletes its cached
kernels (``*.nbi``/``*.nbc``) before any kernel module is imported; they
compile again on first use.

Runs once, at ``import kelly_jack``; never raises (a cache it cannot clean
is left as it is).
"""

from __future__ import annotations

import hashlib
import os

PACKAGE = os.path.dirname(os.path.abspath(__file__))
KERNEL_DIRS = ("rt", os.path.join("backends", "rtneural"), "jack")  # every module with @njit/@cfunc
STAMP = "kelly-jack-kernels.stamp"


def fingerprint(package: str = PACKAGE) -> str:
    """A hash of (path, size, mtime) of every .py file under the kernel folders of ``package``."""
    h = hashlib.sha256()
    for sub in KERNEL_DIRS:
        for root, dirs, files in os.walk(os.path.join(package, sub)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    st = os.stat(path)
                    h.update(f"{os.path.relpath(path, package)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _numba_subpaths(package: str) -> set[str]:
    """The folder names Numba >= 0.59 gives kelly's kernel folders under NUMBA_CACHE_DIR: ``<name>_<sha1 of path>``."""
    names = set()
    for sub in KERNEL_DIRS:
        for root, dirs, _ in os.walk(os.path.join(package, sub)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            path = os.path.abspath(root)
            names.add(f"{os.path.basename(path)}_{hashlib.sha1(path.encode()).hexdigest()}")
    return names


def _cache_files(cache_dir: str | None, package: str):
    """Numba's index and data files of kelly's kernels: in __pycache__ folders, or under NUMBA_CACHE_DIR."""
    if cache_dir is None:
        roots = [os.path.join(package, sub) for sub in KERNEL_DIRS]
    else:  # other projects' caches under NUMBA_CACHE_DIR stay
        roots = [os.path.join(cache_dir, d) for d in (os.listdir(cache_dir) if os.path.isdir(cache_dir) else [])]
        mine = _numba_subpaths(package)
    for top in roots:
        for root, _, files in os.walk(top):
            # older Numba mirrors the source path under NUMBA_CACHE_DIR, newer names the folder by its path's hash
            if cache_dir is not None and "kelly_jack" not in root and os.path.basename(top) not in mine:
                continue
            for name in files:
                if name.endswith((".nbi", ".nbc")):
                    yield os.path.join(root, name)


def refresh(cache_dir: str | None, package: str = PACKAGE) -> bool:
    """Delete kelly's cached kernels if their sources changed since the stamp; True if it did.

    ``cache_dir`` is NUMBA_CACHE_DIR (None: Numba caches in ``__pycache__`` beside the sources).
    """
    try:
        stamp_dir = cache_dir or os.path.join(package, "__pycache__")
        stamp = os.path.join(stamp_dir, STAMP)
        now = fingerprint(package)
        try:
            with open(stamp) as f:
                if f.read() == now:
                    return False
        except OSError:
            pass
        for path in _cache_files(cache_dir, package):
            try:
                os.remove(path)
            except OSError:
                pass
        os.makedirs(stamp_dir, exist_ok=True)
        tmp = f"{stamp}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(now)
        os.replace(tmp, stamp)
        return True
    except OSError:
        return False
