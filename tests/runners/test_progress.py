"""Progress events written in one process reach a live bar drawn by another."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from workbench.runners.progress import PROGRESS_ENV, ItemProgress, forward_progress

CHILD = """
import time
from workbench.runners.progress import ItemProgress
with ItemProgress(4, initial=1, desc="davis2016 classical", enabled=False) as p:
    for _ in range(3):
        time.sleep(0.05)
        p.update()
"""


def test_events_from_a_child_process_draw_a_terminal_bar(tmp_path: Path) -> None:
    stream = io.StringIO()
    with forward_progress(tmp_path / "progress.jsonl", stream=stream, poll_s=0.01) as seen:
        subprocess.run([sys.executable, "-c", CHILD], check=True)  # inherits the variable, like a kernel
    assert [e["event"] for e in seen] == ["start", "update", "update", "update", "close"]
    assert seen[0] == {"event": "start", "desc": "davis2016 classical", "total": 4, "initial": 1}
    assert [e["n"] for e in seen if e["event"] == "update"] == [2, 3, 4]
    text = stream.getvalue()
    assert "davis2016 classical" in text and "4/4" in text


def test_without_the_variable_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with ItemProgress(2, enabled=False) as p:
        p.update(2)
    assert list(tmp_path.iterdir()) == []


def test_the_variable_is_restored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "outer")
    with forward_progress(tmp_path / "p.jsonl", stream=io.StringIO()):
        pass
    import os

    assert os.environ[PROGRESS_ENV] == "outer"
