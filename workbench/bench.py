"""``workbench bench``: the workbench against the raw SAM 2 API, measured in the same run.

Sections (``--only fps,click,memory,widget,policies,families``), explained in ``benchmarks/README.md``:
video propagation fps (VideoSession vs the raw ``SAM2VideoPredictor`` loop on ``bedroom``), click
latency (ImageSession + overlay vs ``SAM2ImagePredictor.predict``), peak memory vs video length
(fresh process per configuration), the PromptCanvas widget's overhead, and the tracking
policies (fps of each against sam2's own in the same run, SAM2Long's cost per number of
pathways, each policy's peak memory at two video lengths in a fresh process), and the model
families side by side (the same click tracked through the same frames by each family's video
backend in a VideoSession: official ``sam2``, SAM 2.1 and EdgeTAM through ``transformers``, the
classical baseline).

Every figure is the median over repeats; every ratio is taken pair by pair (raw and workbench
measured back to back, alternating order) and then its median reported. No timing is asserted.

Layers: this module is the core of the benchmark (options, the sections, orchestration, the
argparse command); it imports sessions, backends and io, never :mod:`workbench.widgets`, and
the widgets never import it. The widget parts -- the clicks through a PromptCanvas of the
``widget`` section and the widget's overlay encoder timed in the ``click`` section -- live in
:mod:`workbench.widgets.bench` as plain functions; the ``workbench bench`` command
(:mod:`workbench.cli`, the application layer, the one module allowed to import both) hands them
in as *section overrides* (``run_bench(options, sections=...)``,
``add_bench_command(subparsers, sections=...)``). Without them (``python -m workbench.bench``)
the click section encodes the overlay with numpy and the widget section reports "not available".
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .bench_table import UNTRAINED, format_table
from .errors import ConfigError, DatasetNotFoundError, UnknownNameError

if TYPE_CHECKING:
    from .sessions import ImageSession

SECTIONS = ("fps", "click", "memory", "widget", "policies", "families")
FAMILIES = ("sam2:sam2.1_hiera_tiny", "transformers:hf_sam2.1_hiera_tiny", "transformers:edgetam", "classical")
"""Default video backends of the families section, ``backend[:model]`` (the first is the basis of
the ratios). SAM 3 (``transformers:sam3_tracker``) is left out by default: without its model
folder it is built from a small test config, whose speed says nothing about SAM 3."""
PUBLISHED_A100_FPS = {
    "sam2.1_hiera_tiny": 91.2,
    "sam2.1_hiera_small": 84.8,
    "sam2.1_hiera_base_plus": 64.1,
    "sam2.1_hiera_large": 39.5,
}
"""SAM 2.1 video fps on one A100 (bf16, torch.compile), from the sam2 README model table."""
GOALS = {
    "fps": "workbench/raw >= 0.97 (CPU: by CPU time)",
    "click": "overhead <= 10 ms or <= 10%",
    "memory": "wb peak @long <= 1.3x @short; raw/wb @long >= 5x; masks identical",
    "widget": "overhead <= 15 ms (CPU)",
    "policies": "samurai <= 5% slower than sam2 (same run)",
    "pathways": "cost(P) <= P/P0 x cost(P0) (at most linear)",
    "policy_memory": "peak above model @long <= 1.3x @short",
    "families": "none (a comparison: fps of each family / the first)",
}
PROMPT_XY = (210.0, 350.0)  # the click of sam2's tools/benchmark.py on bedroom
BOX_XYXY = (600.0, 100.0, 900.0, 400.0)  # a second object for the memory runs
CLICKS_XY = ((210, 350), (480, 270), (700, 200), (300, 120), (820, 430))


@dataclass
class BenchOptions:
    """Settings of one ``workbench bench`` run (None = device-dependent default, see :meth:`resolved`)."""

    model: str = "sam2.1_hiera_tiny"
    checkpoint: str = "random"
    device: str = "auto"
    image_size: int | None = None
    repeats: int | None = None
    frames: int | None = None
    clicks: int | None = None
    memory_frames: tuple[int, int] | None = None
    memory_image_size: int | None = None
    memory_track: int | None = None
    pathways: tuple[int, ...] | None = None
    policy_memory: bool = True
    policy_memory_frames: tuple[int, int] | None = None
    policy_memory_image_size: int | None = None
    families: tuple[str, ...] = FAMILIES
    only: tuple[str, ...] = SECTIONS
    smoke: bool = False
    threads: int | None = None
    precision: str = "auto"
    vos_optimized: bool = False
    warmup: bool | None = None
    out: str | None = "bench_results.json"
    data_dir: str | None = None

    def resolved(self) -> ResolvedBenchOptions:
        """Fill the defaults.

        CUDA: 1024 px, all 200 frames, 5 repeats; the memory runs track every frame at 1024 px.
        CPU: 256 px, 24 frames, 3 repeats; the memory section at 512 px tracking 20 frames (at
        that size the frames the raw API preloads dominate its memory, which is what the
        "5x below raw" goal is about; the policy-memory runs track every frame); the
        policy-memory runs at 128 px (the smallest size at which one frame's tracking tensors,
        12 KB, kept for 2000 frames would show against the memory above the model).
        Both: SAM2Long at 1, 2, 3, 4 pathways; memory and policy memory at 200 vs 2000 frames.
        ``smoke``: 256 px, 3 frames, 1 repeat, 3 clicks, memory 4 vs 8 frames, pathways 1, 2.

        Raises
        ------
        UnknownNameError, ConfigError
        """
        from .backends.runtime import cuda_available

        bad = [s for s in self.only if s not in SECTIONS]
        if bad:
            raise UnknownNameError("bench section", bad[0], SECTIONS)
        device = ("cuda" if cuda_available() else "cpu") if self.device == "auto" else self.device
        gpu = device.startswith("cuda")
        d: dict[str, Any]
        if self.smoke:
            d = dict(
                image_size=256,
                repeats=1,
                frames=3,
                clicks=3,
                memory_frames=(4, 8),
                memory_image_size=256,
                pathways=(1, 2),
                policy_memory_frames=(4, 8),
                policy_memory_image_size=256,
                warmup=False,
            )
        else:
            d = dict(
                image_size=1024 if gpu else 256,
                repeats=5 if gpu else 3,
                frames=200 if gpu else 24,
                clicks=30,
                memory_frames=(200, 2000),
                memory_image_size=None if gpu else 512,
                memory_track=None if gpu else 20,
                pathways=(1, 2, 3, 4),
                policy_memory_frames=(200, 2000),
                policy_memory_image_size=None if gpu else 128,
                warmup=True,
            )
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(device=device, **{k: v if values[k] is None else values[k] for k, v in d.items()})
        for k in ("memory_image_size", "policy_memory_image_size"):
            if values[k] is None:
                values[k] = values["image_size"]
        values["pathways"] = tuple(sorted(set(values["pathways"])))
        o = ResolvedBenchOptions(**values)
        if min(o.repeats, o.frames, o.clicks) < 1 or len(o.memory_frames) != 2 or min(o.memory_frames) < 2:
            raise ConfigError(
                f"repeats, frames and clicks must be >= 1 and --memory-frames two lengths >= 2; got "
                f"repeats={o.repeats}, frames={o.frames}, clicks={o.clicks}, "
                f"memory_frames={o.memory_frames}."
            )
        if not o.families or any(not f.partition(":")[0] for f in o.families):
            raise ConfigError(
                f"--families must be backend[:model] entries, e.g. sam2:sam2.1_hiera_tiny,transformers:edgetam; got {o.families}."
            )
        if not o.pathways or min(o.pathways) < 1:
            raise ConfigError(f"--pathways must be numbers of pathways >= 1, e.g. 1,2,3,4; got {o.pathways}.")
        pm = o.policy_memory_frames
        if len(pm) != 2 or not 1 <= pm[0] < pm[1]:
            raise ConfigError(
                "--policy-memory-frames must be two lengths, the first >= 1 and smaller than the "
                f"second (one run tracks the longer video and reads its peak at both), e.g. 200,2000; got {pm}."
            )
        return o


@dataclass
class ResolvedBenchOptions(BenchOptions):
    """:class:`BenchOptions` after :meth:`~BenchOptions.resolved` (what the sections run with):
    the device chosen and the device-dependent defaults filled in. The fields are those of
    :class:`BenchOptions`, in the same order."""

    image_size: int = 0
    repeats: int = 0
    frames: int = 0
    clicks: int = 0
    memory_frames: tuple[int, int] = (0, 0)
    memory_image_size: int = 0
    pathways: tuple[int, ...] = ()
    policy_memory_frames: tuple[int, int] = (0, 0)
    policy_memory_image_size: int = 0
    warmup: bool = False


# -- helpers -------------------------------------------------------------------------------------
def _bedroom(o: ResolvedBenchOptions) -> Path:
    from .config import data_dir

    root = Path(o.data_dir) if o.data_dir else data_dir(required=True)
    folder = root / "bedroom" / "JPEGImages" / "bedroom"
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"The bedroom clip is missing: {folder}. It is the 200-frame clip of SAM 2's "
            "notebooks (notebooks/videos/bedroom in facebookresearch/sam2); put its JPEG frames "
            "there or pass --data-dir."
        )
    return folder


def _frame_folder(src: Path, n: int) -> tempfile.TemporaryDirectory:
    """A temporary folder of ``n`` symlinked frames ``%05d.jpg``, cycling through ``src``."""
    files = sorted(src.glob("*.jpg"))
    tmp = tempfile.TemporaryDirectory(prefix="wb-bench-frames-")
    for i in range(n):
        os.symlink(files[i % len(files)], Path(tmp.name) / f"{i:05d}.jpg")
    return tmp


def _median(xs) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _q(xs) -> dict:
    """``{"p50", "p95"}`` of ``xs`` (NaN when empty)."""
    a = np.asarray(xs, float)
    return (
        {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95))}
        if a.size
        else {"p50": float("nan"), "p95": float("nan")}
    )


def _timed(fn: Callable[[], int]) -> tuple[float, float]:
    """Run ``fn`` (it returns the frames it tracked): (fps by wall time, fps by this process's CPU
    time; on a shared CPU the second is what the process itself spent)."""
    w, c = time.perf_counter(), time.process_time()
    k = fn()
    return k / (time.perf_counter() - w), k / max(time.process_time() - c, 1e-9)


def _alternating(
    o: ResolvedBenchOptions, keys: Sequence[str], run: Callable[[str, int], tuple[float, float]], n: int, what: str
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time ``run(key, n)`` (fps by wall and CPU time) for every key, ``o.repeats`` times in
    alternating order (forward, then backward), after a 4-frame warm-up of each when
    ``o.warmup``; returns ``(wall, cpu)``: key -> fps per repeat."""
    for k in keys if o.warmup else ():
        run(k, min(n, 4))
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(o.repeats):
        for k in keys if r % 2 == 0 else keys[::-1]:
            fw, fc = run(k, n)
            wall[k].append(fw)
            cpu[k].append(fc)
        _log(f"{what} repeat {r + 1}/{o.repeats}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in wall.items()))
    return wall, cpu


def _log(msg: str) -> None:
    sys.stderr.write(f"[bench] {msg}\n")
    sys.stderr.flush()


# -- fps ------------------------------------------------------------------------------------------
def bench_fps(o: ResolvedBenchOptions, model: str | None = None) -> dict:
    """Propagation fps, raw loop vs VideoSession (preloaded and lazy frames), ``o.frames`` frames."""
    from .backends.sam2.reference import RawVideoLoop, VideoPrompt, build_video_model
    from .backends.sam2.video import SAM2VideoBackend
    from .sessions import VideoSession

    model = model or o.model
    n = min(o.frames, len(list(_bedroom(o).glob("*.jpg"))))  # bedroom: 200 frames
    tmp = _frame_folder(_bedroom(o), n)
    raw_net, _ = build_video_model(model, o.checkpoint, o.device, o.image_size, o.vos_optimized)
    wb_net, info = build_video_model(model, o.checkpoint, o.device, o.image_size, o.vos_optimized)
    raw = RawVideoLoop(raw_net, tmp.name, o.precision)
    sessions = {}
    for name, lazy in (("workbench", False), ("workbench_lazy", True)):
        backend = SAM2VideoBackend(wb_net, info, precision=o.precision, lazy_frames=lazy, memory="bounded")
        sessions[name] = VideoSession(backend, tmp.name)

    def run(k, frames):
        if k == "raw":
            raw.prompt([VideoPrompt(0, 1, np.array([PROMPT_XY], np.float32), np.array([1], np.int32))])
            return _timed(lambda: raw.propagate(frames - 1)[0])
        s = sessions[k]
        s.clear(all_objects=True)
        s.add_point(0, *PROMPT_XY, obj_id=1)
        return _timed(lambda: len(s.propagate(max_frame_num_to_track=frames - 1).frames))

    runs, cpu = _alternating(o, ["raw", *sessions], run, n, f"fps {model}")
    for s in sessions.values():
        s.close()
    tmp.cleanup()
    out: dict[str, Any] = {
        "model": model,
        "frames": n,
        "objects": 1,
        "prompt_xy": list(PROMPT_XY),
        "runs_fps": runs,
        "runs_cpu_fps": cpu,
        "raw_fps": _median(runs["raw"]),
        "raw_cpu_fps": _median(cpu["raw"]),
    }
    for k in sessions:
        sfx = "" if k == "workbench" else "_lazy"
        out[f"{k}_fps"], out[f"{k}_cpu_fps"] = _median(runs[k]), _median(cpu[k])
        out[f"ratio{sfx}"] = _median([w / r for w, r in zip(runs[k], runs["raw"])])
        out[f"ratio_cpu{sfx}"] = _median([w / r for w, r in zip(cpu[k], cpu["raw"])])
        out[f"overhead_ms_per_frame{sfx}"] = _median([1e3 / w - 1e3 / r for w, r in zip(runs[k], runs["raw"])])
    # on CPU, other processes swing wall time; the process's own CPU time is what the workbench adds to
    out["goal_basis"] = "wall" if o.device.startswith("cuda") else "cpu_time"
    out["goal"] = GOALS["fps"]
    out["met"] = bool(out["ratio" if out["goal_basis"] == "wall" else "ratio_cpu"] >= 0.97)
    return out


# -- families -------------------------------------------------------------------------------------
def _family_clicks(o: ResolvedBenchOptions, backend, image: np.ndarray) -> dict[str, Any]:
    """One family's image backend in an ImageSession on bedroom's first frame: the time to set
    the image (the embedding, once) and the latency of ``o.clicks`` single clicks (each undone)."""
    from .sessions import ImageSession

    t0 = time.perf_counter()
    s = ImageSession(backend, image)
    set_image_ms = (time.perf_counter() - t0) * 1000.0
    times: list[float] = []
    for i in range(o.clicks + (1 if o.warmup else 0)):
        x, y = CLICKS_XY[i % len(CLICKS_XY)]
        t0 = time.perf_counter()
        s.add_point(x, y)
        if i or not o.warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
        s.undo()
    return {"set_image_ms": set_image_ms, "click_ms": _q(times)}


def bench_families(o: ResolvedBenchOptions) -> dict:
    """Propagation fps of each model family (``o.families``) through the same VideoSession,
    the same click on frame 0 and the same ``o.frames`` bedroom frames; ratios to the first
    family taken repeat by repeat (order alternating). Then each family's image backend: the
    time to set bedroom's first frame and the latency of ``o.clicks`` clicks (ImageSession). Untrained weights (``checkpoint``
    ``"random"``) unless the bench runs with a checkpoint: then every family loads its own file or
    model folder from the checkpoint directory. ``sam2`` runs at ``o.precision``; the
    ``transformers`` models run in float32 only (``precision`` in each row)."""
    from .backends import make_image_backend, make_video_backend
    from .io.images import read_image
    from .sessions import VideoSession

    n = min(o.frames, len(list(_bedroom(o).glob("*.jpg"))))
    tmp = _frame_folder(_bedroom(o), n)
    sessions: dict[str, VideoSession] = {}
    rows: dict[str, dict[str, Any]] = {}
    built: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for entry in o.families:
        name, _, model = entry.partition(":")
        kw: dict[str, Any] = {}
        if name != "classical":
            precision = "fp32"
            if name == "sam2":  # what "auto" means for sam2: bf16 autocast on CUDA, float32 on CPU
                precision = (
                    ("bf16" if o.device.startswith("cuda") else "fp32") if o.precision == "auto" else o.precision
                )
            kw = dict(
                checkpoint="random" if o.checkpoint == "random" else None,
                device=o.device,
                image_size=o.image_size,
                precision=precision,
            )
        built[entry] = (name, model or None, kw)
        backend = make_video_backend(name, model or None, **kw)
        info = backend.info
        sessions[entry] = VideoSession(backend, tmp.name)
        rows[entry] = {
            "backend": info.backend,
            "model": info.model,
            "image_size": info.image_size,
            "untrained": bool(info.untrained),
            "precision": kw.get("precision", "fp32") if name != "classical" else "-",
        }

    def run(k: str, frames: int) -> tuple[float, float]:
        s = sessions[k]
        s.clear(all_objects=True)
        s.add_point(0, *PROMPT_XY, obj_id=1)
        return _timed(lambda: len(s.propagate(max_frame_num_to_track=frames - 1).frames))

    wall, cpu = _alternating(o, list(sessions), run, n, "families")
    for s in sessions.values():
        s.close()
    tmp.cleanup()
    image = read_image(sorted(_bedroom(o).glob("*.jpg"))[0])
    for entry, (kind, model_name, kw) in built.items():
        rows[entry].update(_family_clicks(o, make_image_backend(kind, model_name, **kw), image))
    basis = o.families[0]
    for k, row in rows.items():
        row.update(
            runs_fps=wall[k],
            runs_cpu_fps=cpu[k],
            fps=_median(wall[k]),
            cpu_fps=_median(cpu[k]),
            ratio=_median([a / b for a, b in zip(wall[k], wall[basis])]),
            ratio_cpu=_median([a / b for a, b in zip(cpu[k], cpu[basis])]),
        )
    return {"frames": n, "objects": 1, "prompt_xy": list(PROMPT_XY), "basis": basis, "families": rows}


# -- policies -------------------------------------------------------------------------------------
def _policy_configs(pathways: Sequence[int]) -> list[tuple[str, str, dict | None]]:
    """``(label, policy, params)`` timed by :func:`bench_policies`: every policy of
    ``POLICIES`` at its defaults (``"sam2long"``: the reference's 3 pathways), then SAM2Long at
    each other number of pathways in ``pathways`` (``"sam2long P=1"``, ...)."""
    from .backends.sam2.policies import POLICIES, SAM2LongParams

    configs: list[tuple[str, str, dict | None]] = [(p, p, None) for p in POLICIES]
    default = SAM2LongParams().num_pathway
    configs += [(f"sam2long P={k}", "sam2long", {"num_pathway": k}) for k in pathways if k != default]
    return configs


def _pathway_label(k: int) -> str:
    from .backends.sam2.policies import SAM2LongParams

    return "sam2long" if k == SAM2LongParams().num_pathway else f"sam2long P={k}"


def bench_policies(o: ResolvedBenchOptions) -> dict:
    """Every tracking policy against sam2's own, in one run.

    * **fps**: propagation fps of every policy of ``workbench.backends.sam2.policies.POLICIES``
      and of SAM2Long at each number of pathways in ``o.pathways``, on the same weights and
      frames (``o.frames`` bedroom frames, ``o.image_size``), one click, in alternating order;
      each as a ratio to sam2's own policy measured in the same repeat (CPU-time basis on CPU,
      wall time on CUDA); the mask decoder's calls per tracked frame.
    * **pathways**: SAM2Long's cost (time per frame) at ``P`` pathways over its cost at the
      fewest pathways measured, ``P0``, per repeat then the median; at most linear when it is
      ``<= P / P0``.
    * **memory** (unless ``o.policy_memory`` is False): each policy at its defaults tracks a
      ``o.policy_memory_frames[1]``-frame video (bedroom's frames repeated) in a fresh process
      through the bounded-memory backend with lazy frames, at ``o.policy_memory_image_size``,
      one object; the kernel's peak RSS is read after ``o.policy_memory_frames[0]`` tracked
      frames and at the end (:func:`workbench.backends.sam2.reference.policy_memory_run`).
      The goal is judged on the peak *above the model* (peak minus the RSS after building it),
      i.e. on what the video and the policy add: at small sizes torch and the model dominate
      the total and would hide growth.
    """
    from .backends.sam2.policies import DEFAULT_POLICY, POLICIES
    from .backends.sam2.reference import DecoderCalls, build_video_model
    from .backends.sam2.video import SAM2VideoBackend
    from .sessions import VideoSession

    n = min(o.frames, len(list(_bedroom(o).glob("*.jpg"))))
    tmp = _frame_folder(_bedroom(o), n)
    net, info = build_video_model(o.model, o.checkpoint, o.device, o.image_size, False)
    backend = SAM2VideoBackend(net, info, precision=o.precision, memory="bounded")
    session = VideoSession(backend, tmp.name)
    configs = _policy_configs(o.pathways)
    labels = [c[0] for c in configs]
    calls: dict[str, float] = {}

    by_label = {c[0]: c for c in configs}

    def run(label: str, frames: int) -> tuple[float, float]:
        _, policy, params = by_label[label]
        backend.set_policy(policy, params)
        session.clear(all_objects=True)
        session.add_point(0, *PROMPT_XY, obj_id=1)
        with DecoderCalls(backend.predictor) as dc:
            fw, fc = _timed(lambda: len(session.propagate(max_frame_num_to_track=frames - 1).frames))
        calls[label] = dc.calls / max(frames - 1, 1)
        return fw, fc

    wall, cpu = _alternating(o, labels, run, n, "policies")
    backend.set_policy(DEFAULT_POLICY)
    session.close()
    tmp.cleanup()
    basis = wall if o.device.startswith("cuda") else cpu
    out: dict[str, Any] = {
        "model": o.model,
        "frames": n,
        "image_size": o.image_size,
        "basis": "wall" if basis is wall else "cpu_time",
        "policies": {},
    }
    for label, policy, params in configs:
        ratio = _median([a / b for a, b in zip(basis[label], basis[DEFAULT_POLICY])])
        out["policies"][label] = {
            "policy": policy,
            "params": params or {},
            "fps": _median(wall[label]),
            "cpu_fps": _median(cpu[label]),
            "ratio": ratio,
            "decoder_calls_per_frame": calls[label],
        }
    out["pathways"] = _pathway_rows(o.pathways, basis)
    samurai = out["policies"].get("samurai")
    judged = [v["met"] for v in out["pathways"].values() if v["met"] is not None]
    out["goals"] = {
        "samurai": {"goal": GOALS["policies"], "met": None if samurai is None else bool(samurai["ratio"] >= 0.95)},
        "pathways": {"goal": GOALS["pathways"], "met": all(judged) if judged else None},
    }
    if o.policy_memory:
        out["memory"] = _policy_memory(o, list(POLICIES))
        out["goals"]["memory"] = {"goal": GOALS["policy_memory"], "met": out["memory"]["met"]}
    mets = [g["met"] for g in out["goals"].values() if g["met"] is not None]
    out["met"] = all(mets) if mets else None
    return out


def _pathway_rows(pathways: Sequence[int], basis: Mapping[str, list[float]]) -> dict[str, dict]:
    """SAM2Long's cost per number of pathways: ``cost`` (time per frame over sam2's),
    ``cost_vs_min`` (over the fewest pathways measured, ``P0``), ``limit`` (``P / P0``),
    ``per_pathway`` (``cost_vs_min / limit``: below 1 is sub-linear) and ``met`` (``cost_vs_min
    <= limit``; None for ``P0``), each the median of per-repeat ratios."""
    p0 = min(pathways)
    base = basis[_pathway_label(p0)]
    rows = {}
    for k in pathways:  # string keys, as after a JSON round trip
        t = basis[_pathway_label(k)]
        vs_min = _median([b / a for a, b in zip(t, base)])
        limit = k / p0
        rows[str(k)] = {
            "num_pathway": k,
            "label": _pathway_label(k),
            "cost": _median([s / a for a, s in zip(t, basis["sam2"])]),
            "cost_vs_min": vs_min,
            "limit": limit,
            "per_pathway": vs_min / limit,
            "met": None if k == p0 else bool(vs_min <= limit),
        }
    return rows


def _slope(points: Sequence[Sequence[float]]) -> float:
    """Least-squares slope of ``[(x, y), ...]`` (NaN with fewer than two distinct x)."""
    a = np.asarray(points, float).reshape(-1, 2)
    if len(np.unique(a[:, 0])) < 2:
        return float("nan")
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def _policy_memory(o: ResolvedBenchOptions, policies: list[str]) -> dict:
    """Peak memory of each policy at ``o.policy_memory_frames`` (see :func:`bench_policies`)."""
    short, long = o.policy_memory_frames
    frames = _frame_folder(_bedroom(o), long)
    tmp = tempfile.TemporaryDirectory(prefix="wb-bench-polmem-")
    runs: dict[str, dict] = {}
    for policy in policies:
        spec = {
            "kind": "policy_memory",
            "policy": policy,
            "policy_params": None,
            "n": long,
            "frames_dir": frames.name,
            "model": o.model,
            "checkpoint": o.checkpoint,
            "device": o.device,
            "image_size": o.policy_memory_image_size,
            "precision": o.precision,
            "threads": o.threads,
            "checkpoints": [short],
            "trace_every": max(long // 20, 1),
        }
        r = _child(spec, tmp.name, f"{policy}@{long}")
        if len(r["at"]) != 2 or r["at"][0]["frames"] != short:
            raise ConfigError(
                f"policy memory run {policy}: expected readings at {short} and {long} frames; got {r['at']}."
            )
        a, b = r["at"]
        r.update(
            growth=b["video_rss_bytes"] / max(a["video_rss_bytes"], 1),
            growth_total=b["peak_rss_bytes"] / max(a["peak_rss_bytes"], 1),
            growth_state=b["state"]["total"] / max(a["state"]["total"], 1),
            bytes_per_frame=(b["peak_rss_bytes"] - a["peak_rss_bytes"]) / (b["frames"] - a["frames"]),
            rss_slope_bytes_per_frame=_slope([t for t in r["trace"] if t[0] >= short]),
        )
        if a.get("gpu"):
            r["growth_gpu"] = b["gpu"]["peak_bytes"] / max(a["gpu"]["peak_bytes"], 1)
        r["met"] = bool(r["growth"] <= 1.3)
        runs[policy] = r
        _log(
            f"policy memory: {policy} peak above model {a['video_rss_bytes'] / 2**20:.0f} MB @{short} -> "
            f"{b['video_rss_bytes'] / 2**20:.0f} MB @{long} (x{r['growth']:.2f}), {r['seconds']:.0f} s"
        )
    frames.cleanup()
    tmp.cleanup()
    return {
        "image_size": o.policy_memory_image_size,
        "frames": [short, long],
        "objects": 1,
        "runs": runs,
        "goal": GOALS["policy_memory"],
        "met": all(r["met"] for r in runs.values()),
    }


# -- click ----------------------------------------------------------------------------------------
OverlayEncoder = tuple[str, Callable[[list, list], object]]
"""``(name, encode(masks: list of (H, W) bool, colors) -> bytes or array))``: how the click
section turns the new mask into what a UI would send."""


def numpy_overlay_encoder() -> OverlayEncoder:
    """An RGBA array made with numpy: the click section's overlay without the widgets (the
    ``workbench bench`` command times the widget's palette-PNG encoder instead,
    :func:`workbench.widgets.bench.overlay_encoder`)."""

    def encode(masks, colors):
        rgba = np.zeros((*masks[0].shape, 4), np.uint8)
        for m, c in zip(masks, colors):
            rgba[m] = (*c, 128)
        return rgba

    return "numpy RGBA", encode


def _image_pair(o: ResolvedBenchOptions):
    from .backends.sam2.reference import image_pair
    from .io.images import read_image

    image = read_image(sorted(_bedroom(o).glob("*.jpg"))[0])
    return (image, *image_pair(o.model, o.checkpoint, o.device, o.image_size, o.precision, image))


def bench_click(o: ResolvedBenchOptions, overlay: OverlayEncoder | None = None) -> dict:
    """Click latency with a cached embedding: ImageSession.add_point + overlay vs raw predict.
    ``overlay``: the overlay encoder timed with each click (default :func:`numpy_overlay_encoder`)."""
    from .sessions import ImageSession

    image, raw, backend = _image_pair(o)
    s = ImageSession(backend, image)
    enc_name, encode = overlay if overlay is not None else numpy_overlay_encoder()
    color = s.objects[1].color
    t_raw: list[float] = []
    t_wb: list[float] = []
    t_enc: list[float] = []
    for i in range(o.clicks + (1 if o.warmup else 0)):
        x, y = CLICKS_XY[i % len(CLICKS_XY)]
        pair: dict[str, float] = {}
        for k in ("raw", "wb") if i % 2 == 0 else ("wb", "raw"):
            t0 = time.perf_counter()
            if k == "raw":
                raw.predict(np.array([[x, y]], np.float32), np.array([1], np.int32), True)
            else:
                res = s.add_point(x, y)
                t1 = time.perf_counter()
                encode([res.candidates[res.selected]], [color])
                pair["enc"] = (time.perf_counter() - t1) * 1000.0
            pair[k] = (time.perf_counter() - t0) * 1000.0
        s.undo()
        if i or not o.warmup:
            t_raw.append(pair["raw"])
            t_wb.append(pair["wb"])
            t_enc.append(pair["enc"])
    over = [w - r for w, r in zip(t_wb, t_raw)]
    out: dict[str, Any] = {
        "clicks": len(t_raw),
        "overlay_encoder": enc_name,
        "raw_ms": _q(t_raw),
        "workbench_ms": _q(t_wb),
        "overhead_ms": _q(over),
        "overlay_ms": _q(t_enc),
        "ratio": _median([w / r for w, r in zip(t_wb, t_raw)]),
        "goal": GOALS["click"],
    }
    out["met"] = bool(out["overhead_ms"]["p50"] <= 10.0 or out["ratio"] <= 1.10)
    return out


# -- widget ---------------------------------------------------------------------------------------
CanvasTimings = Callable[["ImageSession", Sequence[tuple[int, int]], int, bool], dict]
"""``timings(session, clicks_xy, n_clicks, warmup) -> {"overhead_ms": [...], "wall_minus_session_ms":
[...]}`` (or ``{"failed": reason}``): clicks through a PromptCanvas on an ImageSession,
:func:`workbench.widgets.bench.canvas_click_timings`."""

WIDGET_SECTION_MISSING = (
    "the widget section is run by the `workbench bench` command (workbench.cli plugs in "
    "workbench.widgets.bench); this entry point runs the core sections only"
)


def bench_widget(o: ResolvedBenchOptions, timings: CanvasTimings | None = None) -> dict:
    """PromptCanvas overhead per click (its ``last_overhead_ms``), model time excluded.
    ``timings`` does the clicking in the widget layer; without it the section is "not available"."""
    if timings is None:
        return {"available": False, "reason": WIDGET_SECTION_MISSING}
    from .sessions import ImageSession

    image, _, backend = _image_pair(o)
    s = ImageSession(backend, image)
    t = timings(s, CLICKS_XY, o.clicks, bool(o.warmup))
    if "failed" in t:
        return {"available": False, "reason": f"the simulated click failed: {t['failed']}"}
    over, e2e = t["overhead_ms"], t["wall_minus_session_ms"]
    out: dict[str, Any] = {
        "available": True,
        "clicks": len(over),
        "overhead_ms": _q(over),
        "wall_minus_session_ms": _q(e2e),
        "goal": GOALS["widget"],
    }
    out["met"] = bool(out["overhead_ms"]["p50"] <= 15.0)
    return out


SectionFn = Callable[[ResolvedBenchOptions], dict]
"""A section: ``fn(resolved options) -> results dict``."""


def unavailable(reason: str) -> SectionFn:
    """A section that reports ``{"available": False, "reason": reason}`` (what the table shows
    as "not available")."""
    return lambda _o: {"available": False, "reason": reason}


# -- memory ---------------------------------------------------------------------------------------
def memory_child(spec: dict) -> dict:
    """One memory configuration, run in a fresh process by :func:`bench_memory`
    (``spec["kind"] == "memory"``: :func:`workbench.backends.sam2.reference.memory_run`) or by
    :func:`bench_policies` (``"policy_memory"``: :func:`~workbench.backends.sam2.reference.policy_memory_run`)."""
    from .backends.sam2.reference import memory_run, policy_memory_run

    if spec.get("kind") == "policy_memory":
        return policy_memory_run(spec, PROMPT_XY)
    return memory_run(spec, PROMPT_XY, BOX_XYXY)


def _child(spec: dict, folder: str, key: str) -> dict:
    """Run one memory configuration (``spec["kind"]``: ``"memory"`` or ``"policy_memory"``)
    in a fresh ``python -m workbench.bench --memory-child`` process; returns its result.

    Raises
    ------
    ConfigError
        The child failed (its stderr's tail is in the message).
    """
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        "TQDM_DISABLE": "1",  # sam2's per-frame progress bar
    }
    spec = {**spec, "result": f"{folder}/result.json"}
    Path(f"{folder}/spec.json").write_text(json.dumps(spec))
    _log(f"{spec['kind']}: {key} in a fresh process ...")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.bench", "--memory-child", f"{folder}/spec.json"],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise ConfigError(f"memory run {key} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(Path(spec["result"]).read_text())


def _same_masks(a: Path, b: Path) -> bool:
    with np.load(a) as x, np.load(b) as y:
        return sorted(x.files) == sorted(y.files) and bool(x.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def bench_memory(o: ResolvedBenchOptions) -> dict:
    """Peak memory of raw ``init_state`` + tracking vs the bounded backend, at two lengths."""
    short, long = o.memory_frames
    keep = min(200, short, o.memory_track or short)
    runs: dict[str, dict] = {}
    tmp = tempfile.TemporaryDirectory(prefix="wb-bench-mem-")
    for n in (short, long):
        frames = _frame_folder(_bedroom(o), n)
        for impl in ("raw", "workbench"):
            key = f"{impl}@{n}"
            spec = {
                "kind": "memory",
                "impl": impl,
                "n": n,
                "frames_dir": frames.name,
                "model": o.model,
                "checkpoint": o.checkpoint,
                "device": o.device,
                "image_size": o.memory_image_size,
                "precision": o.precision,
                "threads": o.threads,
                "track": o.memory_track,
                "keep_masks": keep,
                "masks_out": f"{tmp.name}/{impl}_{n}.npz",
            }
            runs[key] = _child(spec, tmp.name, key)
            _log(f"memory: {key} peak RSS {runs[key]['peak_rss_bytes'] / 2**20:.0f} MB, {runs[key]['seconds']:.0f} s")
        frames.cleanup()
    same = {
        n: _same_masks(Path(f"{tmp.name}/raw_{n}.npz"), Path(f"{tmp.name}/workbench_{n}.npz")) for n in (short, long)
    }
    tmp.cleanup()

    def get(impl, n, what):
        return runs[f"{impl}@{n}"][what]

    out: dict[str, Any] = {
        "image_size": o.memory_image_size,
        "frames": [short, long],
        "tracked": o.memory_track or "all",
        "objects": 2,
        "runs": runs,
        "masks_identical_first_frames": keep,
        "masks_identical": all(same.values()),
    }
    for what, tag in (("peak_rss_bytes", ""), ("video_rss_bytes", "_video")):
        out[f"workbench_growth{tag}"] = get("workbench", long, what) / max(get("workbench", short, what), 1)
        out[f"raw_growth{tag}"] = get("raw", long, what) / max(get("raw", short, what), 1)
        out[f"raw_over_workbench{tag}"] = get("raw", long, what) / max(get("workbench", long, what), 1)
    gpu = get("raw", long, "gpu")
    if gpu:
        out["raw_over_workbench_gpu"] = gpu["peak_bytes"] / max(get("workbench", long, "gpu")["peak_bytes"], 1)
    out["goal"] = GOALS["memory"]
    out["met"] = bool(out["workbench_growth"] <= 1.3 and out["raw_over_workbench"] >= 5 and out["masks_identical"])
    return out


# -- orchestration --------------------------------------------------------------------------------
def run_bench(options: BenchOptions, sections: Mapping[str, SectionFn] | None = None) -> dict:
    """Run the selected sections; returns (and writes to ``options.out``) the results dict.

    ``sections`` overrides section functions by name (the ``workbench bench`` command passes
    :func:`workbench.cli.bench_sections`: the click and widget sections with the widget parts)."""
    from .backends.sam2.reference import runtime_info, set_threads

    o = options.resolved()
    set_threads(o.threads)
    if o.checkpoint == "random":
        _log(f"!!! {UNTRAINED} !!!")
    results: dict[str, Any] = {
        "meta": {
            **{k: v for k, v in asdict(o).items() if k != "data_dir"},
            **runtime_info(o.device),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "untrained": o.checkpoint == "random",
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
    }
    fns: dict[str, SectionFn] = {
        "fps": bench_fps,
        "click": bench_click,
        "memory": bench_memory,
        "widget": bench_widget,
        "policies": bench_policies,
        "families": bench_families,
        **(sections or {}),
    }
    for name in SECTIONS:
        if name in o.only:
            _log(f"section {name} ...")
            results[name] = fns[name](o)
    if o.out:
        Path(o.out).parent.mkdir(parents=True, exist_ok=True)
        Path(o.out).write_text(json.dumps(results, indent=2, default=str))
    return results


def gpu_suite(options: BenchOptions) -> dict:
    """FPS of every SAM 2.1 size through the workbench and the raw API, next to the published
    A100 figures. Raises ``ConfigError`` without CUDA."""
    o = replace(options, only=("fps",)).resolved()
    if not o.device.startswith("cuda"):
        raise ConfigError(
            "--gpu-suite needs a CUDA GPU (device 'cuda'); this run resolved to "
            f"{o.device!r}. Run the plain benchmark on CPU."
        )
    from .backends.sam2.reference import runtime_info

    rows = {m: bench_fps(o, m) for m in PUBLISHED_A100_FPS}
    out = {
        "meta": {**asdict(o), **runtime_info(o.device)},
        "gpu_suite": {m: {**r, "published_a100_fps": PUBLISHED_A100_FPS[m]} for m, r in rows.items()},
    }
    if o.out:
        Path(o.out).write_text(json.dumps(out, indent=2, default=str))
    return out


_ARGS = (  # (flag, default, type or "flag", help)
    ("--model", "sam2.1_hiera_tiny", str, "registry name or alias (default sam2.1_hiera_tiny)"),
    ("--checkpoint", "random", str, "'random' (untrained: speed only; default) or a .pt file"),
    ("--device", "auto", str, "cpu, cuda, cuda:N or auto (default)"),
    ("--image-size", None, int, "model input size (default 1024 GPU, 256 CPU)"),
    ("--repeats", None, int, "repeats per figure (median reported)"),
    ("--frames", None, int, "frames tracked in the fps section (bedroom has 200)"),
    ("--clicks", None, int, "clicks timed in the click and widget sections"),
    ("--memory-frames", None, str, "two video lengths for the memory section, e.g. 200,2000"),
    ("--memory-image-size", None, int, "input size of the memory runs (CPU default 512)"),
    ("--memory-track", None, int, "frames tracked in each memory run (CPU default 20, GPU all)"),
    ("--pathways", None, str, "SAM2Long numbers of pathways timed by the policies section (default 1,2,3,4)"),
    ("--policy-memory-frames", None, str, "two video lengths of the per-policy memory runs (default 200,2000)"),
    ("--policy-memory-image-size", None, int, "input size of the per-policy memory runs (CPU default 128)"),
    ("--no-policy-memory", False, "flag", "skip the per-policy memory runs of the policies section"),
    ("--families", ",".join(FAMILIES), str, "backend[:model] entries of the families section, the first the basis"),
    ("--only", ",".join(SECTIONS), str, f"comma-separated sections ({','.join(SECTIONS)})"),
    ("--threads", None, int, "torch CPU threads"),
    ("--precision", "auto", str, "auto, fp32 or bf16 (CUDA only)"),
    ("--vos-optimized", False, "flag", "SAM2VideoPredictorVOS with torch.compile (GPU)"),
    ("--smoke", False, "flag", "tiny run for CI (3 frames, size 256, 1 repeat)"),
    ("--gpu-suite", False, "flag", "fps of every SAM 2.1 size vs the published A100 figures (CUDA)"),
    ("--out", "bench_results.json", str, "JSON results file (default bench_results.json)"),
    ("--data-dir", None, str, "data root holding bedroom/ (default $WORKBENCH_DATA_DIR)"),
)


def add_bench_command(subparsers, sections: Callable[[], Mapping[str, SectionFn]] | None = None) -> None:
    """Register ``workbench bench`` on an argparse ``subparsers`` object. ``sections``: a
    function returning section overrides for :func:`run_bench`, called when the command runs
    (so the upper layer that supplies them is imported only then)."""
    p = subparsers.add_parser(
        "bench",
        help="benchmark the workbench against the raw SAM 2 API (fps, click latency, memory, widget overhead, tracking policies, model families)",
    )
    for flag, default, kind, text in _ARGS:
        if kind == "flag":
            p.add_argument(flag, action="store_true", help=text)
        else:
            p.add_argument(flag, type=kind, default=default, help=text)
    p.set_defaults(func=partial(_cmd_bench, sections=sections))


def _ints(flag: str, value: str, example: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError as exc:
        raise ConfigError(f"{flag} must be comma-separated integers like {example}; got {value!r}.") from exc


def _cmd_bench(args, sections: Callable[[], Mapping[str, SectionFn]] | None = None) -> int:
    kw = {f[2:].replace("-", "_"): getattr(args, f[2:].replace("-", "_")) for f, *_ in _ARGS if f != "--gpu-suite"}
    kw["only"] = tuple(s for s in kw["only"].split(",") if s)
    kw["families"] = tuple(s.strip() for s in kw["families"].split(",") if s.strip())
    kw["policy_memory"] = not kw.pop("no_policy_memory")
    for key, example in (("memory_frames", "200,2000"), ("policy_memory_frames", "200,2000"), ("pathways", "1,2,3,4")):
        if kw[key]:
            kw[key] = _ints("--" + key.replace("_", "-"), kw[key], example)
    o = BenchOptions(**kw)
    results = gpu_suite(o) if args.gpu_suite else run_bench(o, sections() if sections is not None else None)
    print(format_table(results))
    if args.out:
        print(f"\nwrote {args.out}")
    return 0


def main(argv: list[str] | None = None, sections: Callable[[], Mapping[str, SectionFn]] | None = None) -> int:
    """``python -m workbench.bench``: the bench command alone with the core sections (and the
    memory child entry). ``sections``: see :func:`add_bench_command`; the full command with the
    widget sections is ``workbench bench`` / :func:`workbench.cli.bench_main`."""
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--memory-child"]:
        spec = json.loads(Path(argv[1]).read_text())
        Path(spec["result"]).write_text(json.dumps(memory_child(spec), default=str))
        return 0
    parser = argparse.ArgumentParser(prog="workbench")
    add_bench_command(parser.add_subparsers(dest="command", required=True), sections)
    from .errors import WorkbenchError

    args = parser.parse_args(["bench", *argv] if argv[:1] != ["bench"] else argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        sys.stderr.write(f"workbench: error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
