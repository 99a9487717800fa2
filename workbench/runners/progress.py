"""Per-item progress that reaches the terminal from inside a papermill kernel.

A benchmark notebook runs its runner in a Jupyter kernel, so the runner's progress bar lands
in the executed notebook, not in the terminal of ``make demo`` / ``workbench report``. The
parent process therefore names a file in ``$WORKBENCH_PROGRESS_FILE`` before it starts the
kernel (which inherits the environment); the runner's :class:`ItemProgress` appends one JSON
line per event to it (``start`` with ``desc``/``total``/``initial``, ``update`` with ``n``,
``close``), and the parent's :func:`forward_progress` tails the file and draws a live tqdm bar
with ETA on its own stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm

PROGRESS_ENV = "WORKBENCH_PROGRESS_FILE"
"""Environment variable naming the JSON-lines progress file (set by the parent process)."""


class ItemProgress:
    """The runner's progress over items: a tqdm bar where the runner runs (notebook or
    terminal) and, when ``$WORKBENCH_PROGRESS_FILE`` is set, events for the parent process.

    Parameters
    ----------
    total : int
        Items in the run.
    initial : int
        Items already done (a resumed run).
    desc : str
        Bar label (e.g. ``"davis2016 sam2.1_hiera_tiny"``).
    enabled : bool
        Draw the local bar (events are written regardless when the variable is set).
    """

    def __init__(self, total: int, initial: int = 0, desc: str = "", enabled: bool = True):
        self._bar = auto_tqdm(total=total, initial=initial, desc=desc, disable=not enabled)
        path = os.environ.get(PROGRESS_ENV, "").strip()
        self._file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._n = initial
        self._emit({"event": "start", "desc": desc, "total": int(total), "initial": int(initial)})

    def _emit(self, event: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(event) + "\n")
            self._file.flush()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished items."""
        self._n += n
        self._bar.update(n)
        self._emit({"event": "update", "n": self._n})

    def close(self) -> None:
        """Close the local bar and tell the parent this run's items are done."""
        self._bar.close()
        self._emit({"event": "close"})
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ItemProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Forwarder(threading.Thread):
    """Tails a progress file and mirrors its events on a terminal tqdm bar."""

    def __init__(self, path: Path, stream: IO[str], poll_s: float):
        super().__init__(daemon=True)
        self.path, self.stream, self.poll_s = path, stream, poll_s
        self.stop = threading.Event()
        self.bar: tqdm | None = None
        self.seen: list[dict[str, Any]] = []

    def _handle(self, ev: dict[str, Any]) -> None:
        self.seen.append(ev)
        kind = ev.get("event")
        if kind == "start":
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(
                total=ev.get("total"),
                initial=ev.get("initial", 0),
                desc=f"  {ev.get('desc', '')}",
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
            )
        elif kind == "update" and self.bar is not None:
            self.bar.update(int(ev["n"]) - self.bar.n)
        elif kind == "close" and self.bar is not None:
            self.bar.close()
            self.bar = None

    def run(self) -> None:
        offset, pending = 0, ""
        while True:
            stopping = self.stop.is_set()
            if self.path.is_file():
                with self.path.open(encoding="utf-8") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                    offset = fh.tell()
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    with contextlib.suppress(ValueError):
                        self._handle(json.loads(line))
            if stopping:
                break
            self.stop.wait(self.poll_s)
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def forward_progress(path: str | Path, stream: IO[str] | None = None, poll_s: float = 0.2) -> Iterator[list[dict]]:
    """Set ``$WORKBENCH_PROGRESS_FILE`` to ``path`` for the block (kernels started inside it
    inherit it) and draw the events written there as a live bar on ``stream`` (default stderr).

    Yields the list of events read so far (complete once the block has exited).
    """
    import sys

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    old = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = str(path)
    fwd = _Forwarder(path, stream if stream is not None else sys.stderr, poll_s)
    fwd.start()
    try:
        yield fwd.seen
    finally:
        fwd.stop.set()
        fwd.join()
        if old is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = old


__all__ = ["PROGRESS_ENV", "ItemProgress", "forward_progress"]
