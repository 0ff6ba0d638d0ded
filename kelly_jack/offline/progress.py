"""A progress bar over a long audio file, for the offline tools (render, features)."""

from __future__ import annotations

LONG_FILE_S = 30.0  # files at least this long get a progress bar (on a terminal)


def file_progress(description: str, frames: int, rate: int, show: bool | None = None):
    """A rich progress bar over ``frames`` on stderr, as a context manager yielding ``update(frames_done)``.

    ``show`` None: only for files of ``LONG_FILE_S`` or more when stderr is a terminal.
    """
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if show is None:
        show = console.is_terminal and frames >= LONG_FILE_S * rate
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))

    @contextmanager
    def bar():
        with Progress(*columns, TimeRemainingColumn(), console=console, disable=not show, transient=True) as p:
            task = p.add_task(description, total=max(frames, 1))
            yield lambda done: p.update(task, completed=min(done, frames))

    return bar()
