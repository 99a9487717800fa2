"""One background thread for model calls, so a notebook kernel's main thread stays free.

Jobs run one at a time in submission order. A job submitted with a ``key`` supersedes the
jobs with the same key that have not started yet: their futures are cancelled and they never
run (the sessions use this for clicks: the newest job predicts from all the clicks made so
far, so nothing is lost). Long jobs poll a :class:`CancelToken` between frames.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass

from ..errors import BackendError


class CancelToken:
    """A cancellation flag checked between frames of a long call (a thin ``threading.Event``).

    Any object with an ``is_set()`` method (e.g. ``threading.Event``) is accepted wherever a
    token is.
    """

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running call to stop at the next frame boundary."""
        self._event.set()

    set = cancel

    def is_set(self) -> bool:
        return self._event.is_set()

    cancelled = property(is_set)


def is_cancelled(token) -> bool:
    """True when ``token`` (None, a :class:`CancelToken`, a ``threading.Event`` or anything
    with ``is_set()``) asks to stop."""
    return token is not None and bool(token.is_set())


@dataclass
class _Job:
    fn: Callable
    args: tuple
    kwargs: dict
    key: Hashable | None
    future: Future


class Worker:
    """A single background thread running submitted callables in order.

    Parameters
    ----------
    name : str
        Thread name (shows in debuggers and ``threading.enumerate()``).

    Notes
    -----
    ``concurrent.futures.ThreadPoolExecutor`` cannot drop a queued job when a newer one
    arrives, hence this small queue. The thread is a daemon and starts on the first submit.
    """

    def __init__(self, name: str = "workbench-session-worker"):
        self.name = name
        self._cv = threading.Condition()
        self._pending: deque[_Job] = deque()
        self._running: _Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.jobs_run = 0
        """Number of jobs that actually ran (superseded ones do not count)."""

    def submit(
        self,
        fn: Callable,
        *args,
        key: Hashable | None = None,
        on_done: Callable[[Future], None] | None = None,
        **kwargs,
    ) -> Future:
        """Queue ``fn(*args, **kwargs)``; return its ``concurrent.futures.Future``.

        Parameters
        ----------
        fn : callable
        key : hashable, optional
            Jobs that share a key supersede each other: pending (not yet started) jobs with
            this key are cancelled (``future.cancelled()`` is True). A running job is never
            interrupted.
        on_done : callable, optional
            ``on_done(future)`` after the job finishes (on the worker thread), or right away
            for a cancelled future. Schedule UI updates from here.

        Raises
        ------
        BackendError
            The worker was shut down.
        """
        fut: Future = Future()
        if on_done is not None:
            fut.add_done_callback(on_done)
        with self._cv:
            if self._closed:
                raise BackendError("This worker was shut down; create a new session (or Worker) to run more jobs.")
            superseded: list[_Job] = []
            if key is not None:
                keep: deque[_Job] = deque()
                for job in self._pending:
                    (superseded if job.key == key else keep).append(job)
                self._pending = keep
            self._pending.append(_Job(fn, args, kwargs, key, fut))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cv.notify_all()
        for job in superseded:
            job.future.cancel()
        return fut

    @property
    def pending(self) -> int:
        """Number of queued jobs not yet started."""
        with self._cv:
            return len(self._pending)

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        with self._cv:
            return self._running is not None or bool(self._pending)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._running is None and not self._pending, timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                job = self._pending.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue
                self._running = job
            try:
                result = job.fn(*job.args, **job.kwargs)
            except BaseException as exc:  # handed to the future's owner
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                with self._cv:
                    self._running = None
                    self.jobs_run += 1
                    self._cv.notify_all()

    def shutdown(self, wait: bool = True, cancel_pending: bool = True) -> None:
        """Stop accepting jobs; cancel queued ones (default) and optionally wait for the
        running one."""
        with self._cv:
            self._closed = True
            dropped = list(self._pending) if cancel_pending else []
            if cancel_pending:
                self._pending.clear()
            self._cv.notify_all()
            thread = self._thread
        for job in dropped:
            job.future.cancel()
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()


__all__ = ["CancelToken", "Worker", "is_cancelled"]
