"""``workbench bench``: the CI-sized smoke run end to end (in a subprocess, as a user runs it),
its JSON layout and table, and the command-line wiring. No timing is asserted: only that every
section ran and every figure and ratio is a finite number."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.bench import SECTIONS, BenchOptions, add_bench_command, format_table
from workbench.errors import ConfigError, UnknownNameError

ROOT = Path(__file__).resolve().parent.parent


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture(scope="module")
def smoke(data_dir: Path, tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    env = {
        **os.environ,
        "WORKBENCH_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "bench", "--smoke", "--threads", "1", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_smoke_run_writes_every_section_with_finite_ratios(smoke):
    res, stdout = smoke
    meta = res["meta"]
    assert meta["smoke"] and meta["image_size"] == 256 and meta["repeats"] == 1 and meta["untrained"]
    assert set(SECTIONS) <= set(res)

    fps = res["fps"]
    assert fps["frames"] == 3 and len(fps["runs_fps"]["raw"]) == 1 and len(fps["runs_cpu_fps"]["workbench"]) == 1
    for k in (
        "raw_fps",
        "workbench_fps",
        "workbench_lazy_fps",
        "ratio",
        "ratio_lazy",
        "raw_cpu_fps",
        "ratio_cpu",
        "ratio_cpu_lazy",
    ):
        assert _finite(fps[k]) and fps[k] > 0, k
    assert isinstance(fps["met"], bool)

    click = res["click"]
    assert click["clicks"] == 3
    for k in ("raw_ms", "workbench_ms", "overhead_ms", "overlay_ms"):
        assert _finite(click[k]["p50"]) and _finite(click[k]["p95"]), k
    assert _finite(click["ratio"]) and click["raw_ms"]["p50"] > 0 and click["overlay_ms"]["p50"] >= 0

    mem = res["memory"]
    assert mem["frames"] == [4, 8] and set(mem["runs"]) == {"raw@4", "workbench@4", "raw@8", "workbench@8"}
    for k in (
        "workbench_growth",
        "raw_growth",
        "raw_over_workbench",
        "workbench_growth_video",
        "raw_over_workbench_video",
    ):
        assert _finite(mem[k]) and mem[k] > 0, k
    for run in mem["runs"].values():
        assert run["peak_rss_bytes"] >= run["model_rss_bytes"] > 0 and run["frames_tracked"] == run["n"]
    # the raw state holds every preprocessed frame, the bounded backend at most its frame cache (8)
    frame = 3 * 256 * 256 * 4
    assert mem["runs"]["raw@8"]["state"]["images"] == 8 * frame and mem["runs"]["raw@4"]["state"]["images"] == 4 * frame
    assert mem["runs"]["workbench@8"]["state"]["images"] <= 8 * frame
    assert mem["masks_identical"] is True  # same masks as the raw API on the tracked frames

    widget = res["widget"]
    if widget["available"]:
        assert _finite(widget["overhead_ms"]["p50"]) and widget["overhead_ms"]["p50"] >= 0
    else:
        assert widget["reason"]

    pol = res["policies"]
    assert pol["frames"] == 3 and set(pol["policies"]) >= {"sam2", "samurai"}
    assert pol["policies"]["sam2"]["ratio"] == 1.0  # each policy against sam2 in the same repeat
    assert all(_finite(p["fps"]) and _finite(p["ratio"]) and p["ratio"] > 0 for p in pol["policies"].values())
    assert isinstance(pol["met"], bool)

    assert (
        "UNTRAINED WEIGHTS" in stdout
        and "propagation fps" in stdout
        and "masks identical" in stdout
        and "samurai fps" in stdout
    )
    assert format_table(res).splitlines()[0].startswith("workbench bench: sam2.1_hiera_tiny")


def test_command_line_options_and_defaults():
    parser = argparse.ArgumentParser(prog="workbench")
    add_bench_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "bench",
            "--only",
            "fps,memory",
            "--memory-frames",
            "20,200",
            "--image-size",
            "512",
            "--gpu-suite",
            "--vos-optimized",
        ]
    )
    assert args.command == "bench" and args.only == "fps,memory" and args.memory_frames == "20,200"
    assert args.image_size == 512 and args.gpu_suite and args.vos_optimized and callable(args.func)

    o = BenchOptions(device="cpu").resolved()
    assert (o.image_size, o.memory_image_size, o.memory_frames) == (256, 64, (200, 2000))
    s = BenchOptions(device="cpu", smoke=True, frames=5).resolved()
    assert (s.image_size, s.repeats, s.frames, s.warmup) == (256, 1, 5, False)
    with pytest.raises(UnknownNameError, match="click, fps, memory, policies, widget"):
        BenchOptions(device="cpu", only=("fps", "speed")).resolved()
    with pytest.raises(ConfigError, match="memory-frames"):
        BenchOptions(device="cpu", memory_frames=(1, 10)).resolved()


def test_bad_arguments_exit_with_a_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "bench", "--only", "fps,nope", "--out", str(tmp_path / "x")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "nope" in proc.stderr and "memory" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "bench", "--gpu-suite", "--device", "cpu"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "CUDA" in proc.stderr
