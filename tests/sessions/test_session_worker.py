"""The background worker: ordering, superseding pending clicks, callbacks, errors, shutdown;
and sessions driven through their ``*_async`` API on a real GrabCut image."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import GrabCutImageBackend
from workbench.errors import BackendError, PromptError
from workbench.io.images import read_image, read_palette_mask
from workbench.sessions import AddPoints, ImageSession, Worker


def test_worker_runs_in_order_and_supersedes_pending_jobs():
    w = Worker()
    gate, started = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocker():
        started.set()
        gate.wait(10)
        ran.append("blocker")
        return "b"

    first = w.submit(blocker, key="click")
    assert started.wait(10)
    later = [w.submit(ran.append, f"click{i}", key="click") for i in range(2, 6)]
    other = w.submit(ran.append, "box", key="box")
    assert w.pending == 2  # click5 + box; click2..4 were superseded
    assert [f.cancelled() for f in later] == [True, True, True, False]
    gate.set()
    assert first.result(10) == "b" and later[-1].result(10) is None and other.result(10) is None
    assert ran == ["blocker", "click5", "box"]
    assert w.wait_idle(10) and w.jobs_run == 3 and not w.busy
    w.shutdown()
    with pytest.raises(BackendError, match="shut down"):
        w.submit(print)


def test_worker_callbacks_and_errors():
    w = Worker()
    done = threading.Event()
    seen = []

    def on_done(fut):
        seen.append((threading.current_thread().name, fut.exception()))
        done.set()

    fut = w.submit(lambda: 1 / 0, on_done=on_done)
    assert done.wait(10)
    with pytest.raises(ZeroDivisionError):
        fut.result()
    assert seen[0][0] == w.name and isinstance(seen[0][1], ZeroDivisionError)
    assert w.submit(lambda a, b=0: a + b, 2, b=3).result(10) == 5  # the thread survives errors
    w.shutdown()


@pytest.fixture(scope="module")
def grabcut(data_dir: Path):
    root = data_dir / "images" / "grabcut"
    return read_image(root / "images" / "124080.jpg"), read_palette_mask(root / "masks" / "124080.png") == 255


class GatedBackend(GrabCutImageBackend):
    """GrabCut whose first predict waits for ``gate``; counts predict calls."""

    def __init__(self):
        super().__init__()
        self.gate, self.entered, self.calls = threading.Event(), threading.Event(), []

    def predict(self, point_coords=None, point_labels=None, **kw):
        self.calls.append(None if point_coords is None else np.asarray(point_coords).copy())
        self.entered.set()
        self.gate.wait(10)
        return super().predict(point_coords, point_labels, **kw)


def test_burst_of_clicks_costs_two_model_calls(grabcut):
    image, gt = grabcut
    backend = GatedBackend()
    s = ImageSession(backend, image)
    ys, xs = np.nonzero(gt)
    pts = [(float(xs[i]), float(ys[i])) for i in np.linspace(0, len(xs) - 1, 5).astype(int)]
    done = []
    futs = [s.add_point_async(*pts[0], on_done=done.append)]
    assert backend.entered.wait(10)  # click 1 is running (blocked inside predict)
    futs += [s.add_point_async(x, y, on_done=done.append) for x, y in pts[1:]]
    assert [f.cancelled() for f in futs[1:]] == [True, True, True, False]
    backend.gate.set()
    last = futs[-1].result(10)
    assert futs[0].result(10).candidates.shape[0] == 3
    assert len(backend.calls) == 2  # the running click + the last pending one
    assert backend.calls[1].shape == (5, 2)  # ... which predicts from all five clicks
    assert np.array_equal(s.prompt_of().point_coords, np.array(pts, np.float32))
    assert last.candidates.shape[0] == 1 and np.array_equal(s.masks[1], last.candidates[last.selected])
    assert [len(a.point_labels) for a in s.timeline if isinstance(a, AddPoints)] == [1, 4]
    assert s.worker.wait_idle(10)
    assert len(done) == 5  # every callback fires (for the cancelled futures at once)
    # one undo step removes the merged burst, exactly
    first = futs[0].result()
    s.undo_async().result(10)
    assert np.array_equal(s.masks[1], first.candidates[first.selected]) and s.prompt_of().num_points == 1
    s.redo_async().result(10)
    assert np.array_equal(s.masks[1], last.candidates[last.selected])
    # a bad click is refused on the calling thread, before anything is queued
    with pytest.raises(PromptError, match="outside"):
        s.add_point_async(-5, 3)
    s.close()


def test_async_box_and_candidate(grabcut):
    image, gt = grabcut
    s = ImageSession(GrabCutImageBackend(), image)
    ys, xs = np.nonzero(gt)
    box = s.set_box_async(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1).result(20)
    assert box.candidates.shape[0] == 1 and s.masks[1].any()
    s.add_point_async(float(xs[0]), float(ys[0]), multimask_output=True).result(20)
    r = s.select_candidate_async(2).result(20)
    assert r.selected == 2 and np.array_equal(s.masks[1], r.candidates[2])
    fut = s.select_candidate_async(7)
    with pytest.raises(PromptError):
        fut.result(20)
    s.close()
