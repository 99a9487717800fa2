"""Resumable runs: an interrupted or killed run, resumed, gives an uninterrupted run's files
(timing fields aside); different settings are refused; a cut-off last log line is tolerated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import papermill as pm
import pytest

from workbench.errors import ConfigError, ResultsFormatError
from workbench.runners import resume_run, run_image_benchmark, run_vos_benchmark
from workbench.runners.executors import BackendSpec
from workbench.runners.items import comparable_outputs
from workbench.runners.report import notebook_parameters, notebooks_dir
from workbench.runners.runlog import ItemLog, read_records


class _Interrupting:
    """Backend wrapper that raises KeyboardInterrupt when the ``n``-th item starts."""

    def __init__(self, backend, method: str, n: int):
        self._backend, self._method, self._n, self._calls = backend, method, n, 0

    def __getattr__(self, name):
        attr = getattr(self._backend, name)
        if name != self._method:
            return attr

        def wrapped(*args, **kw):
            self._calls += 1
            if self._calls == self._n:
                raise KeyboardInterrupt
            return attr(*args, **kw)

        return wrapped


def _sessions(run_dir):
    return json.loads((run_dir / "execution.json").read_text())["sessions"]


def _assert_same(a, b):
    ca, cb = comparable_outputs(a), comparable_outputs(b)
    assert set(ca) == set(cb)
    for name in ca:
        assert ca[name] == cb[name], f"{name} differs from the uninterrupted run"


@pytest.mark.slow
def test_interrupted_vos_run_resumes_to_the_uninterrupted_files(tmp_path, davis_dir, data_dir, monkeypatch):
    kw = dict(
        backend="classical",
        data_root=davis_dir,
        sequences=["blackswan", "dog", "car-shadow"],
        max_frames=6,
        save_masks=True,
        reports_root=tmp_path,
        progress=False,
    )
    reference = run_vos_benchmark(run_id="reference", **kw)
    build = BackendSpec.build
    monkeypatch.setattr(BackendSpec, "build", lambda self: _Interrupting(build(self), "init_state", 3))
    with pytest.raises(KeyboardInterrupt):
        run_vos_benchmark(run_id="cut", **kw)
    run_dir = tmp_path / "cut"
    assert json.loads((run_dir / "run_card.json").read_text())["status"] == "interrupted"
    assert list(read_records(run_dir / "items.jsonl")) == ["blackswan", "dog"]
    assert not (run_dir / "summary.json").exists()
    monkeypatch.setattr(BackendSpec, "build", build)
    assert resume_run("cut", reports_root=tmp_path, data_root=data_dir, progress=False) == run_dir
    assert [(s["items_reused"], s["items_run"], s["status"]) for s in _sessions(run_dir)] == [
        (0, 2, "interrupted"),
        (2, 1, "done"),
    ]
    assert json.loads((run_dir / "run_card.json").read_text())["status"] == "done"
    _assert_same(reference, run_dir)


@pytest.mark.slow
def test_killed_image_run_with_a_cut_last_line_resumes(tmp_path, data_dir):
    kw = dict(
        backend="classical",
        dataset="grabcut",
        data_root=str(data_dir),
        subset=5,
        max_clicks=3,
        save_masks=True,
        overlay_clicks=2,
        reports_root=str(tmp_path),
        progress=False,
    )
    reference = run_image_benchmark(run_id="reference", **kw)
    script = textwrap.dedent(f"""
        from workbench.runners import run_image_benchmark
        run_image_benchmark(run_id="killed", **{kw!r})
    """)
    log = tmp_path / "killed" / "items.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file() and log.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = read_records(log)
    assert 2 <= len(done) < 5, "the run was not killed half-way"
    with log.open("ab") as fh:  # a write cut short by the kill
        fh.write(b'{"kind": "image", "item": "truncat')
    run_dir = run_image_benchmark(run_id="killed", resume=True, **kw)
    assert _sessions(run_dir)[-1]["items_reused"] == len(done)
    assert _sessions(run_dir)[-1]["items_run"] == 5 - len(done)
    _assert_same(reference, run_dir)


@pytest.mark.slow
def test_resume_refuses_other_settings_and_finished_runs_are_kept(tmp_path, data_dir, monkeypatch):
    kw = dict(
        backend="classical",
        dataset="grabcut",
        data_root=data_dir,
        subset=2,
        max_clicks=2,
        box_prompt=False,
        run_id="small",
        reports_root=tmp_path,
        progress=False,
    )
    run_dir = run_image_benchmark(**kw)
    before = comparable_outputs(run_dir)
    with pytest.raises(ConfigError, match=r"params\.max_clicks: run has 2, now 3"):
        run_image_benchmark(**{**kw, "max_clicks": 3}, resume=True)
    with pytest.raises(ConfigError, match="items: run has"):
        run_image_benchmark(**{**kw, "subset": 3}, resume=True)
    with pytest.raises(ConfigError, match="needs run_id"):
        run_image_benchmark(**{**kw, "run_id": None}, resume=True)
    build = BackendSpec.build

    def other_model(self):
        backend = build(self)
        backend.info = replace(backend.info, model="other-model")
        return backend

    monkeypatch.setattr(BackendSpec, "build", other_model)
    with pytest.raises(ConfigError, match="model: run has"):
        run_image_benchmark(**kw, resume=True)
    monkeypatch.setattr(BackendSpec, "build", build)
    assert comparable_outputs(run_dir) == before  # refusals leave the run as it was
    run_image_benchmark(**kw, resume=True)  # everything finished: nothing runs again
    assert _sessions(run_dir)[-1]["items_run"] == 0 and _sessions(run_dir)[-1]["items_reused"] == 2
    assert comparable_outputs(run_dir) == before
    # `workbench report --resume` passes the card's settings back as notebook parameters
    kind, nb = notebook_parameters(json.loads((run_dir / "run_card.json").read_text()))
    assert kind == "image" and nb == {
        "backend": "classical",
        "image_size": 1024,
        "device": "auto",  # the request, as given (the default); the card's `device` is the one chosen
        "precision": "auto",
        "dataset": "grabcut",
        "smoke": False,
        "save_masks": False,
        "subset": 2,
        "n_clicks": 2,
        "multimask": "first",
        "overlay_clicks": 5,
    }
    assert set(nb) <= set(pm.inspect_notebook(str(notebooks_dir() / "interactive_image_benchmark.ipynb")))


def test_item_log_ignores_a_cut_last_line_and_refuses_a_broken_one(tmp_path):
    path = tmp_path / "items.jsonl"
    log = ItemLog(path, fresh=True)
    log.append({"kind": "image", "item": "a", "result": {"ious": [0.5, float("nan")]}, "timing": {}})
    with path.open("ab") as fh:
        fh.write(b'{"kind": "image", "item": "b", "res')
    assert list(read_records(path)) == ["a"]
    log = ItemLog(path, fresh=False)  # cuts the partial line so the next record starts on its own line
    log.append({"kind": "image", "item": "b", "result": {}, "timing": {}})
    assert list(read_records(path)) == ["a", "b"]
    assert path.read_text().count("\n") == 2
    path.write_text('{"kind": "image", "item": "a", "result": {}, "timing": {}}\nnot json\n{"item": "c"}\n')
    with pytest.raises(ResultsFormatError, match="line 2"):
        read_records(path)


@pytest.mark.slow
def test_resume_run_dispatches_volume_runs(tmp_path, data_dir):
    from workbench.runners import read_run, resume_run
    from workbench.runners.volume_runner import run_volume_benchmark

    first = run_volume_benchmark(
        backend="classical", data_root=data_dir, smoke=True, run_id="vol", reports_root=tmp_path, progress=False
    )
    before = read_run(first)["summary"]["mDice-3D"]
    again = resume_run("vol", reports_root=tmp_path, data_root=data_dir, progress=False)
    execution = json.loads((again / "execution.json").read_text())["sessions"]
    assert again == first and read_run(again)["card"]["kind"] == "volume"
    assert execution[-1]["resumed"] and execution[-1]["items_reused"] == 1 and execution[-1]["items_run"] == 0
    assert read_run(again)["summary"]["mDice-3D"] == before
