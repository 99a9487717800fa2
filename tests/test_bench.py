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

from workbench.bench import FAMILIES, SECTIONS, BenchOptions, _child, _pathway_rows, add_bench_command, format_table
from workbench.errors import ConfigError, UnknownNameError

ROOT = Path(__file__).resolve().parent.parent


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@pytest.fixture
def bedroom_frames(data_dir: Path, tmp_path: Path) -> Path:
    """The first 40 bedroom frames (symlinks, ``%05d.jpg``)."""
    src = sorted((data_dir / "bedroom" / "JPEGImages" / "bedroom").glob("*.jpg"))[:40]
    for i, f in enumerate(src):
        (tmp_path / f"{i:05d}.jpg").symlink_to(f)
    return tmp_path


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
    # every policy at its defaults, plus SAM2Long at the smoke run's other pathway counts (1, 2)
    assert pol["frames"] == 3 and set(pol["policies"]) == {
        "sam2",
        "samurai",
        "sam2long",
        "sam2long P=1",
        "sam2long P=2",
    }
    assert pol["policies"]["sam2"]["ratio"] == 1.0  # each policy against sam2 in the same repeat
    assert all(_finite(p["fps"]) and _finite(p["ratio"]) and p["ratio"] > 0 for p in pol["policies"].values())
    assert pol["policies"]["sam2long P=2"]["params"] == {"num_pathway": 2}
    # one decoder run per tracked frame for sam2 (2 frames after the prompted one); SAM2Long's
    # pathways share a run while their memories agree, so never more runs than pathways
    assert pol["policies"]["sam2"]["decoder_calls_per_frame"] == 1.0
    assert 1.0 <= pol["policies"]["sam2long P=2"]["decoder_calls_per_frame"] <= 2.0
    ways = pol["pathways"]
    assert [w["num_pathway"] for w in ways.values()] == [1, 2] and ways["1"]["met"] is None
    assert ways["1"]["cost_vs_min"] == 1.0 and ways["2"]["limit"] == 2.0 and isinstance(ways["2"]["met"], bool)
    assert all(_finite(w["cost"]) and w["cost"] > 0 for w in ways.values())
    mem_p = pol["memory"]
    assert (
        mem_p["frames"] == [4, 8]
        and mem_p["image_size"] == 256
        and set(mem_p["runs"])
        == {
            "sam2",
            "samurai",
            "sam2long",
        }
    )
    for name, run in mem_p["runs"].items():
        assert run["policy"] == name and run["frames_tracked"] == 8 and [a["frames"] for a in run["at"]] == [4, 8]
        assert run["at"][1]["peak_rss_bytes"] >= run["at"][0]["peak_rss_bytes"] >= run["model_rss_bytes"] > 0
        assert _finite(run["growth"]) and run["growth"] >= 1.0 and isinstance(run["met"], bool)
    assert mem_p["runs"]["sam2long"]["policy_params"]["num_pathway"] == 3  # recorded from the backend
    assert set(pol["goals"]) == {"samurai", "pathways", "memory"}
    assert pol["met"] == all(g["met"] for g in pol["goals"].values())

    fam = res["families"]
    assert fam["frames"] == 3 and fam["basis"] == FAMILIES[0] and list(fam["families"]) == list(FAMILIES)
    rows = fam["families"]
    assert [r["backend"] for r in rows.values()] == ["sam2", "transformers", "transformers", "classical"]
    assert [r["model"] for r in rows.values()][:3] == ["sam2.1_hiera_tiny", "hf_sam2.1_hiera_tiny", "hf_edgetam"]
    assert rows[FAMILIES[0]]["ratio"] == 1.0 and rows[FAMILIES[0]]["precision"] == "fp32"
    for r in rows.values():
        assert len(r["runs_fps"]) == 1 and all(_finite(r[k]) and r[k] > 0 for k in ("fps", "cpu_fps", "ratio"))
        assert _finite(r["set_image_ms"]) and 0 < r["click_ms"]["p50"] <= r["click_ms"]["p95"]
    assert all(r["untrained"] and r["image_size"] == 256 for r in list(rows.values())[:3])

    assert (
        "UNTRAINED WEIGHTS" in stdout
        and "transformers:edgetam fps, 3 frames, 256 px, fp32 UNTRAINED" in stdout
        and "propagation fps" in stdout
        and "masks identical" in stdout
        and "samurai fps" in stdout
        and "sam2long cost at 2 pathways" in stdout
        and "samurai peak RSS MB @4 -> @8 frames, 256 px" in stdout
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
            "--pathways",
            "1,3",
            "--policy-memory-frames",
            "50,500",
            "--policy-memory-image-size",
            "64",
            "--no-policy-memory",
        ]
    )
    assert args.command == "bench" and args.only == "fps,memory" and args.memory_frames == "20,200"
    assert args.image_size == 512 and args.gpu_suite and args.vos_optimized and callable(args.func)
    assert (args.pathways, args.policy_memory_frames, args.policy_memory_image_size) == ("1,3", "50,500", 64)
    assert args.no_policy_memory

    # CPU: the memory section at 512 px (where preloaded frames dominate the raw API's memory),
    # 20 tracked frames; each policy's memory at 128 px over 200 vs 2000 tracked frames
    o = BenchOptions(device="cpu").resolved()
    assert (o.image_size, o.memory_image_size, o.memory_frames, o.memory_track) == (256, 512, (200, 2000), 20)
    assert (o.pathways, o.policy_memory, o.policy_memory_frames, o.policy_memory_image_size) == (
        (1, 2, 3, 4),
        True,
        (200, 2000),
        128,
    )
    s = BenchOptions(device="cpu", smoke=True, frames=5).resolved()
    assert (s.image_size, s.repeats, s.frames, s.warmup) == (256, 1, 5, False)
    assert (s.pathways, s.policy_memory_frames) == ((1, 2), (4, 8))
    assert BenchOptions(device="cpu", pathways=(4, 1, 2, 1)).resolved().pathways == (1, 2, 4)
    with pytest.raises(UnknownNameError, match="click, families, fps, memory, policies, widget"):
        BenchOptions(device="cpu", only=("fps", "speed")).resolved()
    with pytest.raises(ConfigError, match="memory-frames"):
        BenchOptions(device="cpu", memory_frames=(1, 10)).resolved()
    with pytest.raises(ConfigError, match="policy-memory-frames"):
        BenchOptions(device="cpu", policy_memory_frames=(2000, 200)).resolved()
    with pytest.raises(ConfigError, match="pathways"):
        BenchOptions(device="cpu", pathways=(0, 2)).resolved()
    assert o.families == FAMILIES and FAMILIES[0] == "sam2:sam2.1_hiera_tiny"
    with pytest.raises(ConfigError, match="families"):
        BenchOptions(device="cpu", families=()).resolved()
    with pytest.raises(ConfigError, match="families"):
        BenchOptions(device="cpu", families=(":edgetam",)).resolved()
    args = parser.parse_args(["bench", "--families", "sam2:sam2.1_hiera_tiny,transformers:edgetam"])
    assert args.families == "sam2:sam2.1_hiera_tiny,transformers:edgetam"


def test_pathway_cost_is_judged_against_linear_growth():
    """SAM2Long's cost per number of pathways, from per-repeat fps (here given, not timed):
    cost = time per frame over the fewest pathways measured, pair by pair, then the median;
    met while it stays within P / P0."""
    fps = {
        "sam2": [10.0, 7.5],
        "sam2long P=1": [8.0, 6.0],  # 1.25x sam2's time per frame
        "sam2long P=2": [5.0, 3.75],  # 1.6x P=1: sub-linear
        "sam2long": [2.5, 1.875],  # 3 pathways: 3.2x P=1, above the limit 3
        "sam2long P=4": [2.0, 1.5],  # 4.0x P=1: exactly linear
    }
    rows = _pathway_rows((1, 2, 3, 4), fps)
    assert list(rows) == ["1", "2", "3", "4"] and rows["3"]["label"] == "sam2long"
    assert [rows[k]["cost_vs_min"] for k in rows] == pytest.approx([1.0, 1.6, 3.2, 4.0])
    assert [rows[k]["per_pathway"] for k in rows] == pytest.approx([1.0, 0.8, 3.2 / 3, 1.0])
    assert [rows[k]["met"] for k in rows] == [None, True, False, True]
    assert rows["1"]["cost"] == pytest.approx(1.25)
    # without P=1 the fewest pathways measured is the reference: P=4 against P=2 may cost 2x
    rows = _pathway_rows((2, 4), fps)
    assert rows["4"]["limit"] == 2.0 and rows["4"]["cost_vs_min"] == pytest.approx(2.5) and rows["4"]["met"] is False


@pytest.mark.slow
def test_policy_memory_run_holds_the_same_tensors_after_20_and_40_frames(bedroom_frames: Path, tmp_path_factory):
    """The per-policy memory run of the bench, each in a fresh process as the bench runs it:
    every policy tracks 40 frames through the bounded backend, with readings after 20 (beyond
    the 15-frame window, so entries are being spilled) and 40 frames. The tensors the tracking
    state holds in memory are the same at both (SAM2Long's extra pathway slots are spilled with
    their frame), only the spilled bytes on disk grow."""
    for policy in ("sam2", "samurai", "sam2long"):
        spec = {
            "kind": "policy_memory",
            "frames_dir": str(bedroom_frames),
            "n": 40,
            "model": "sam2.1_hiera_tiny",
            "checkpoint": "random",
            "device": "cpu",
            "image_size": 64,
            "precision": "fp32",
            "threads": 1,
            "policy": policy,
            "policy_params": {"num_pathway": 2} if policy == "sam2long" else None,
            "checkpoints": [20],
            "trace_every": 10,
        }
        r = _child(spec, str(tmp_path_factory.mktemp(policy)), policy)
        a, b = r["at"]
        assert r["policy"] == policy and r["frames_tracked"] == 40 and (a["frames"], b["frames"]) == (20, 40)
        assert [t[0] for t in r["trace"]] == [10, 20, 30, 40]
        assert (a["state"]["total"], a["state"]["tensors"]) == (b["state"]["total"], b["state"]["tensors"]), policy
        assert (
            b["state"]["spilled"] - a["state"]["spilled"] == 20
            and b["state"]["spill_bytes"] > a["state"]["spill_bytes"]
        )
        assert b["peak_rss_bytes"] >= a["peak_rss_bytes"] > r["model_rss_bytes"] > 0
        assert (a["policy_state_bytes"] == 0) == (policy == "sam2")
    assert r["policy_params"]["num_pathway"] == 2


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
