"""Per-item tasks of the benchmark runners and their result records.

Each item (one VOS sequence, one image) is one pure task ``task(backend, item) -> record``:
it runs the protocol on the item, writes the item's masks into the run folder (atomically) and
returns a JSON-serialisable record

``{"kind": "vos"|"image", "item": <name>, "result": {...}, "timing": {...}}``

``result`` holds every number the run files are made of (metrics, per-frame J/F, clicks and
IoUs); ``timing`` holds wall-clock measurements only (seconds, FPS, latencies, worker pid),
which differ between runs and executors.

Corrupted runs (robustness experiments): a task with ``corruption`` set applies
:func:`workbench.io.corruptions.corrupt` (images) or :func:`~workbench.io.corruptions.corrupt_frames`
(video frames) to the pixels before the backend sees them; the ground truth is left as it is.
The corruption seed of an item is :func:`corruption_seed` (run seed, item name), so a run is
reproducible and independent of the executor and of the order in which items run. The run files are assembled from the records in the
dataset's item order (:func:`vos_outputs`, :func:`image_outputs`), so they do not depend on
which worker ran an item or when.

:data:`TIMING_FIELDS` lists where timing values appear in a run folder;
:func:`comparable_outputs` loads a run folder without them, to compare two runs exactly.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backends.base import ConceptPrompts, supports
from ..backends.detectors import DetectorSpec, make_detector
from ..errors import ConfigError
from ..io.corruptions import corrupt, corrupt_frames
from ..io.frames import FrameSource
from ..io.images import write_palette_mask
from ..metrics.davis import global_accuracy
from ..metrics.image import dice, iou, pixel_accuracy
from ..metrics.vos_eval import VOSEvaluation, global_stats
from ..protocols.clicks import ClickRun, run_click_protocol
from ..protocols.concepts import TEXT_PROMPT, ConceptVOSRun, run_text_sequence
from ..protocols.detect import DETECTOR_PROMPT, DetectorVOSRun, run_detector_sequence
from ..protocols.matching import MatchedVOSRun
from ..protocols.specs import ImageRunSpec, VOSRunSpec, check_corruption, corruption_params
from ..protocols.vos import VOSRun, run_vos_sequence
from ..types import Click

TIMING_FIELDS: dict[str, tuple[str, ...]] = {
    "sequences.csv": ("propagate_s", "FPS"),
    "per_image.csv": ("latency_ms",),
    "volumes.csv": ("seconds", "propagate_seconds", "slices_per_s"),
    "pvs_objects.csv": ("interact_s", "propagate_s"),
    "pvs_rounds.csv": ("interact_s", "propagate_s", "FPS"),
    "summary.json": ("FPS", "latency_ms", "mean_latency_s", "slices_per_s", "seconds_per_round"),
    "run_card.json": ("wall_time_s", "started_at", "run_id", "git_commit", "versions", "python", "status"),
    "items.jsonl": ("timing",),
}
"""File name → columns / keys holding timing or provenance values (excluded when comparing
runs). ``execution.json`` is timing only."""

RESULT_FILES = (
    "global_results.csv",
    "per_sequence_results.csv",
    "sequences.csv",
    "per_frame.json",
    "per_image.csv",
    "clicks.json",
    "click_curve.csv",
    "volumes.csv",
    "per_slice.json",
    "pvs_curve.csv",
    "pvs_video_curves.csv",
    "pvs_objects.csv",
    "pvs_rounds.csv",
    "summary.json",
    "run_card.json",
    "items.jsonl",
)
"""Files a run folder may hold that :func:`comparable_outputs` loads."""


def _box_of(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)  # XYXY pixels


def _clicks_json(clicks: list[Click]) -> list[dict]:
    return [{"row": int(c.y), "col": int(c.x), "is_positive": bool(c.is_positive)} for c in clicks]


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def corruption_seed(seed: int, item_name: str) -> int:
    """Seed of the corruption of one item: ``np.random.SeedSequence([seed, crc32(item_name)])``,
    first 32-bit word. Depends only on the run seed and the item's name (not on the executor,
    the worker or the order of items).

    Parameters
    ----------
    seed : int
        The run seed (run card ``seed``).
    item_name : str
        Image ``item_id`` or sequence name.
    """
    crc = zlib.crc32(str(item_name).encode("utf-8"))
    return int(np.random.SeedSequence([int(seed), int(crc)]).generate_state(1)[0])


# --------------------------------------------------------------------------- VOS
@dataclass(frozen=True)
class VOSTask:
    """One DAVIS sequence: prompt frame 0, propagate, score (see :func:`run_vos_sequence`).

    Attributes
    ----------
    prompt : str
        One of ``workbench.protocols.vos.VOS_PROMPTS``.
    max_frames : int or None
        Keep only the first N frames.
    save_masks : bool
        Write ``masks/<seq>/%05d.png`` palette PNGs into ``run_dir``.
    run_dir : str
        The run folder (must be reachable by the worker at this path).
    corruption : str or None
        Corrupt every frame (``workbench.io.corruptions.corrupt_frames``) before the backend
        sees it; None (default) runs on the clean frames.
    severity : int
        Corruption severity 1..5 (0 is the identity).
    seed : int
        Run seed; the sequence's corruption seed is ``corruption_seed(seed, name)``.
    track_objects_appearing_later : bool
        Track every annotated object separately from its first frame (see
        :func:`~workbench.protocols.vos.run_vos_sequence`).
    per_object_png : bool
        Write ``masks/<seq>/<obj_id:03d>/%05d.png`` (0/1, one folder per object) instead of
        one id map per frame, and score every object's own mask.
    detector : DetectorSpec or None
        With ``prompt="detector"``: the detector (built per sequence; model detectors are
        cached per worker) and prompting mode (:func:`~workbench.protocols.detect.run_detector_sequence`).
        A ground-truth detector sees the same frames' annotations as the scoring (cut to
        ``max_frames``), never the corrupted frames' content.
    text_prompt : str or None
        With ``prompt="text"``: the noun phrase tracked by a concept-prompt backend
        (:func:`~workbench.protocols.concepts.run_text_sequence`).
    """

    prompt: str
    max_frames: int | None
    save_masks: bool
    run_dir: str
    corruption: str | None = None
    severity: int = 0
    seed: int = 0
    track_objects_appearing_later: bool = False
    per_object_png: bool = False
    detector: DetectorSpec | None = None
    text_prompt: str | None = None

    @classmethod
    def from_spec(cls, spec: VOSRunSpec, run_dir: str | Path) -> VOSTask:
        """The task of every sequence of the run ``spec`` writing into ``run_dir``."""
        return cls(
            prompt=spec.prompt,
            max_frames=spec.max_frames,
            save_masks=spec.save_masks,
            run_dir=str(run_dir),
            corruption=spec.corruption,
            severity=spec.severity,
            seed=spec.seed,
            track_objects_appearing_later=spec.track_objects_appearing_later,
            per_object_png=spec.per_object_png,
            detector=spec.detector,
            text_prompt=spec.text_prompt,
        )

    def __call__(self, backend, item) -> dict:
        """Run the sequence ``item`` (a :class:`~workbench.io.datasets.VideoItem`) on ``backend``.

        Returns
        -------
        dict
            ``result``: ``obj_ids``, ``num_frames``, ``per_object`` (``"<seq>_<id>"`` → J/F
            statistics), ``per_frame`` (obj id as str → ``{"J": [...], "F": [...]}``, frames
            1..T-2), ``frames`` (scored frame names), ``prompt_clicks`` (obj id → row/col
            clicks), ``masks`` (folder relative to the run folder, or None; with
            ``per_object_png`` also ``masks_layout: "per-object"``), ``prompt_frames`` (obj id
            → frame it was prompted on; with ``track_objects_appearing_later``), ``G-PixelAcc``
            (the survey's global accuracy G, §4.3.2: pixels whose predicted id equals the GT id,
            void excluded, over the scored frames 1..T-2) and ``G-pixels`` (pixels counted);
            corrupted runs add ``corruption`` (kind, severity, seed); detector runs add
            ``detector`` (``mode``, ``objects`` made, ``unmatched`` objects, ``detections``,
            ``detection_frames``, ``matches``: per object its creation frame, ground-truth id
            or None, IoU) and ``prompt_frames``; text runs add ``concept`` (``text``,
            ``objects`` found, ``unmatched`` objects, ``matches`` as for detectors) and
            ``prompt_frames``; ``timing``: ``propagate_s``, ``FPS``,
            ``item_wall_s``, ``worker_pid`` (detector runs: ``detect_s`` too).

        Raises
        ------
        DataError
            Frame/annotation mismatch (see :func:`run_vos_sequence`).
        """
        t0 = time.perf_counter()
        clip, gt = load_clip(item, self.max_frames)
        frames: Path | list[np.ndarray] | np.ndarray = clip
        cseed = None
        if self.corruption is not None:
            if not isinstance(frames, list):
                src = FrameSource(item.frames_dir)
                frames = [src[i] for i in range(len(src))]
            cseed = corruption_seed(self.seed, item.name)
            frames = corrupt_frames(frames, self.corruption, self.severity, cseed)
        run: VOSRun
        if self.prompt == DETECTOR_PROMPT:
            spec = self.detector or DetectorSpec()
            detector = make_detector(spec, annotations=gt, key=item.name)
            run = run_detector_sequence(backend, frames, gt, detector, spec, sequence=item.name)
        elif self.prompt == TEXT_PROMPT:
            run = run_text_sequence(backend, frames, gt, str(self.text_prompt), sequence=item.name)
        else:
            run = run_vos_sequence(
                backend,
                frames,
                gt,
                prompt=self.prompt,
                sequence=item.name,
                track_objects_appearing_later=self.track_objects_appearing_later,
                per_object=self.per_object_png,
            )
        masks = None
        if self.save_masks:
            masks = f"masks/{item.name}"
            if self.per_object_png and run.object_masks is not None:
                write_object_masks(Path(self.run_dir) / masks, run.object_masks)
            else:
                _write_sequence_masks(Path(self.run_dir) / masks, run.pred)
        ev = run.evaluation
        result = {
            "obj_ids": [int(k) for k in run.obj_ids],
            "num_frames": int(run.num_frames),
            "per_object": {name: {k: float(v) for k, v in st.items()} for name, st in ev.per_object.items()},
            "per_frame": {str(k): {m: _floats(v) for m, v in jf.items()} for k, jf in ev.per_frame[item.name].items()},
            "frames": list(ev.frames.get(item.name, [])),
            "bound_th": float(ev.bound_th),
            "prompt_clicks": {str(k): _clicks_json(v) for k, v in run.prompt_clicks.items()},
            "masks": masks,
            **_global_accuracy(gt, run.pred),
        }
        if self.per_object_png:
            result["masks_layout"] = "per-object"
        if self.track_objects_appearing_later or isinstance(run, MatchedVOSRun):
            result["prompt_frames"] = {str(k): int(v) for k, v in run.prompt_frames.items()}
        if isinstance(run, DetectorVOSRun):
            result["detector"] = {
                "mode": run.mode,
                "objects": run.objects,
                "unmatched": run.unmatched,
                "detections": run.detections,
                "detection_frames": run.detection_frames,
                "matches": _matches_json(run.matches),
            }
        if isinstance(run, ConceptVOSRun):
            result["concept"] = {
                "text": run.text,
                "objects": run.objects,
                "unmatched": run.unmatched,
                "matches": _matches_json(run.matches),
            }
        if cseed is not None:
            result["corruption"] = {"kind": self.corruption, "severity": int(self.severity), "seed": cseed}
        timing = {
            "propagate_s": float(run.propagate_seconds),
            "FPS": float(run.fps),
            "item_wall_s": time.perf_counter() - t0,
            "worker_pid": os.getpid(),
        }
        if isinstance(run, DetectorVOSRun):
            timing["detect_s"] = float(run.detect_seconds)
        return {"kind": "vos", "item": item.name, "result": result, "timing": timing}


def load_clip(item, max_frames: int | None) -> tuple[Path | list[np.ndarray], np.ndarray]:
    """A DAVIS-format sequence (:class:`~workbench.io.datasets.VideoItem`) cut to its first
    ``max_frames`` frames (None: all): ``(frames, gt)``, frames as the item's JPEG folder when
    the whole sequence is used, else the first ``max_frames`` decoded ``(H, W, 3)`` uint8 frames;
    ``gt`` the ``(T, H, W)`` uint8 ground-truth ids of those frames.

    Raises
    ------
    DataError
        No annotations, or annotations that do not match the frames.
    """
    gt = item.load_annotations()
    if max_frames is None or max_frames >= gt.shape[0]:
        return item.frames_dir, gt
    src = FrameSource(item.frames_dir)
    return [src[i] for i in range(max_frames)], gt[:max_frames]


def _matches_json(matches: list[dict]) -> list[dict]:
    """Predicted-object matches (:func:`~workbench.protocols.matching.match_created`) as JSON."""
    return [
        {
            "obj_id": int(m["obj_id"]),
            "frame": int(m["frame"]),
            "gt_id": None if m["gt_id"] is None else int(m["gt_id"]),
            "iou": float(m["iou"]),
        }
        for m in matches
    ]


def _global_accuracy(gt: np.ndarray, pred: np.ndarray) -> dict:
    """The survey's G on the DAVIS-scored frames 1..T-2 (all frames when T < 3), void excluded."""
    sl = slice(1, gt.shape[0] - 1) if gt.shape[0] > 2 else slice(None)
    void = gt[sl] == 255
    return {"G-PixelAcc": float(global_accuracy(gt[sl], pred[sl], void)), "G-pixels": int((~void).sum())}


def _write_sequence_masks(folder: Path, pred: np.ndarray) -> None:
    """Write ``(T, H, W)`` uint8 ids as ``folder/%05d.png``: into a temporary sibling folder,
    then swapped in, so a killed worker never leaves a half-written sequence."""
    tmp = folder.with_name(f".tmp-{folder.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    for t, ids in enumerate(pred):
        write_palette_mask(tmp / f"{t:05d}.png", ids)
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def write_object_masks(folder: str | Path, objects: dict[int, np.ndarray]) -> None:
    """Write one PNG folder per object, the SA-V layout of ``tools/vos_inference.py
    --per_obj_png_file``: ``folder/<obj_id:03d>/%05d.png``, palette PNGs of values 0/1 (the
    object's ``(T, H, W)`` bool mask), every frame of every object. Written into a temporary
    sibling folder and swapped in, as :func:`_write_sequence_masks`.

    Parameters
    ----------
    folder : path
        The sequence's folder (``masks/<seq>``).
    objects : dict
        ``obj_id -> (T, H, W)`` bool masks.
    """
    folder = Path(folder)
    tmp = folder.with_name(f".tmp-{folder.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    for obj_id, stack in sorted(objects.items()):
        for t, mask in enumerate(stack):
            write_palette_mask(tmp / f"{int(obj_id):03d}" / f"{t:05d}.png", mask.astype(np.uint8))
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def vos_evaluation(records: list[dict]) -> VOSEvaluation:
    """Merge VOS records (in the order given) into one :class:`VOSEvaluation`."""
    parts = []
    for rec in records:
        r, seq = rec["result"], rec["item"]
        parts.append(
            VOSEvaluation(
                global_=global_stats(r["per_object"]),
                per_object=r["per_object"],
                per_frame={seq: {int(k): v for k, v in r["per_frame"].items()}},
                frames={seq: r["frames"]},
                bound_th=r["bound_th"],
            )
        )
    return VOSEvaluation.merge(parts)


def vos_tables(records: list[dict]) -> tuple[VOSEvaluation, list[dict], dict]:
    """From ordered VOS records: the merged evaluation, the ``sequences.csv`` rows (per object;
    timing columns ``propagate_s`` and ``FPS`` last) and the ``summary.json`` numbers
    (``frames``, ``objects``, ``FPS`` = frames / propagation seconds over all sequences)."""
    evaluation = vos_evaluation(records)
    rows = []
    for rec in records:
        r, t = rec["result"], rec["timing"]
        for name, stats in r["per_object"].items():
            rows.append(
                {
                    "Sequence": name,
                    "sequence": rec["item"],
                    **stats,
                    "frames": r["num_frames"],
                    "propagate_s": t["propagate_s"],
                    "FPS": t["FPS"],
                }
            )
    frames = sum(rec["result"]["num_frames"] for rec in records)
    seconds = sum(rec["timing"]["propagate_s"] for rec in records)
    summary = {
        **evaluation.global_,
        "FPS": frames / seconds if seconds else float("nan"),
        "frames": frames,
        "objects": len(rows),
        "sequences": len(records),
    }
    if records and all("G-PixelAcc" in rec["result"] for rec in records):  # pooled over all scored pixels
        pixels = sum(rec["result"]["G-pixels"] for rec in records)
        summary["G-PixelAcc"] = (
            (sum(rec["result"]["G-PixelAcc"] * rec["result"]["G-pixels"] for rec in records) / pixels)
            if pixels
            else 1.0
        )
    return evaluation, rows, summary


# --------------------------------------------------------------------------- images
@dataclass(frozen=True)
class ImageTask:
    """One image: the RITM click protocol and (optionally) a ground-truth box prompt.

    Attributes
    ----------
    dataset : str
    max_clicks : int
    multimask : {"first", "always", "never"}
    box_prompt : bool
        Also score one prompt with the GT bounding box (``box`` XYXY pixels).
    stop_at_iou : float or None
    save_masks : bool
        Write the mask after ``overlay_clicks`` clicks to ``masks/<item>.png``.
    overlay_clicks : int
    run_dir : str
    corruption : str or None
        Corrupt the image (``workbench.io.corruptions.corrupt``) before the backend sees it;
        None (default) runs on the clean image. The ground truth is unchanged.
    severity : int
        Corruption severity 1..5 (0 is the identity).
    seed : int
        Run seed; the image's corruption seed is ``corruption_seed(seed, item_id)``.
    """

    dataset: str
    max_clicks: int
    multimask: str
    box_prompt: bool
    stop_at_iou: float | None
    save_masks: bool
    overlay_clicks: int
    run_dir: str
    corruption: str | None = None
    severity: int = 0
    seed: int = 0
    text_prompt: str | None = None
    text_threshold: float = 0.5

    @classmethod
    def from_spec(cls, spec: ImageRunSpec, run_dir: str | Path) -> ImageTask:
        """The task of every image of the run ``spec`` writing into ``run_dir``."""
        return cls(
            dataset=spec.dataset,
            max_clicks=spec.max_clicks,
            multimask=spec.multimask,
            box_prompt=spec.box_prompt,
            stop_at_iou=spec.stop_at_iou,
            save_masks=spec.save_masks,
            overlay_clicks=spec.overlay_clicks,
            run_dir=str(run_dir),
            corruption=spec.corruption,
            severity=spec.severity,
            seed=spec.seed,
            text_prompt=spec.text_prompt,
            text_threshold=spec.text_threshold,
        )

    def _text_result(self, backend, image, gt, ignore) -> dict:
        """``text-IoU`` (highest-scoring instance), ``text-best-IoU`` (best-matching one) and
        ``text-instances`` of the concept prompt ``text_prompt``.

        Raises
        ------
        ConfigError
            The backend takes no concept prompts."""
        if not supports(backend, ConceptPrompts):
            raise ConfigError(
                f"text_prompt={self.text_prompt!r} needs a backend with text concept prompts "
                "(backend='transformers', model='sam3'); this backend has none. Leave text_prompt unset."
            )
        found = backend.segment_concept(image, str(self.text_prompt), threshold=self.text_threshold)
        ious = [float(iou(m, gt, ignore=ignore)) for m in found.masks]
        return {
            "text-IoU": ious[0] if ious else 0.0,
            "text-best-IoU": max(ious, default=0.0),
            "text-instances": len(found),
        }

    def __call__(self, backend, item) -> dict:
        """Run the image ``item`` (an :class:`~workbench.io.datasets.ImageItem`) on ``backend``.

        Returns
        -------
        dict
            ``result``: ``clicks`` (row/col, is_positive), ``ious``, ``oracle_ious`` (one per
            click), ``box-IoU`` / ``box-Dice`` / ``box-PA`` (pixel accuracy, survey eq. 4; when
            asked), ``mask`` (path relative to the run folder, or None); corrupted runs add
            ``corruption`` (kind, severity, seed); ``timing``: ``latencies_s`` (per predict call), ``latency_ms``
            (their mean), ``item_wall_s``, ``worker_pid``.

        Raises
        ------
        DataError, ConfigError
            As :func:`run_click_protocol` raises them.
        """
        t0 = time.perf_counter()
        image, gt, ignore = item.load()
        cseed = None
        if self.corruption is not None:
            cseed = corruption_seed(self.seed, item.item_id)
            image = corrupt(image, self.corruption, self.severity, cseed)
        run = run_click_protocol(
            backend,
            image,
            gt,
            ignore_mask=ignore,
            max_clicks=self.max_clicks,
            multimask=self.multimask,
            stop_at_iou=self.stop_at_iou,
            keep_mask_after=self.overlay_clicks if self.save_masks else None,
        )
        mask = None
        if self.save_masks and run.kept_mask is not None:
            mask = f"masks/{item.item_id}.png"
            write_palette_mask(Path(self.run_dir) / mask, run.kept_mask.astype(np.uint8))
        result = {
            "clicks": _clicks_json(run.clicks),
            "ious": _floats(run.ious),
            "oracle_ious": _floats(run.oracle_ious),
            "mask": mask,
        }
        if self.box_prompt:
            pred = backend.predict(box=_box_of(gt), multimask_output=False)
            box_mask = pred.masks[pred.best()]
            result["box-IoU"] = float(iou(box_mask, gt, ignore=ignore))
            result["box-Dice"] = float(dice(box_mask, gt, ignore=ignore))
            result["box-PA"] = float(pixel_accuracy(box_mask, gt, ignore=ignore))
        if self.text_prompt is not None:
            result.update(self._text_result(backend, image, gt, ignore))
        if cseed is not None:
            result["corruption"] = {"kind": self.corruption, "severity": int(self.severity), "seed": cseed}
        lat = _floats(run.latencies_s)
        timing = {
            "latencies_s": lat,
            "latency_ms": 1000 * float(np.mean(lat)) if lat else float("nan"),
            "item_wall_s": time.perf_counter() - t0,
            "worker_pid": os.getpid(),
        }
        return {"kind": "image", "item": item.item_id, "result": result, "timing": timing}


def click_run(record: dict, max_clicks: int, stop_at_iou: float | None) -> ClickRun:
    """Rebuild the :class:`ClickRun` of an image record (for NoC and mIoU summaries)."""
    r = record["result"]
    return ClickRun(
        clicks=[Click(y=c["row"], x=c["col"], is_positive=c["is_positive"]) for c in r["clicks"]],
        ious=list(r["ious"]),
        oracle_ious=list(r["oracle_ious"]),
        latencies_s=list(record["timing"]["latencies_s"]),
        stop_at_iou=stop_at_iou,
        max_clicks=max_clicks,
    )


def image_rows(records: list[dict], runs: list[ClickRun], task: ImageTask | ImageRunSpec) -> list[dict]:
    """``per_image.csv`` rows in record order (timing column ``latency_ms`` last); ``task`` gives
    ``dataset``, ``max_clicks`` and ``box_prompt`` (an ImageTask or the run's ImageRunSpec)."""
    rows = []
    for rec, run in zip(records, runs):
        row = {
            "dataset": task.dataset,
            "item": rec["item"],
            "NoC@85": run.noc(0.85, task.max_clicks),
            "NoC@90": run.noc(0.90, task.max_clicks),
            "clicks": len(run.clicks),
        }
        for k in range(1, min(task.max_clicks, 5) + 1):
            row[f"IoU@{k}"] = run.iou_at(k)
        for k in range(1, min(task.max_clicks, 5) + 1):  # Dice = 2 IoU / (1 + IoU), exact per image
            row[f"Dice@{k}"] = 2.0 * run.iou_at(k) / (1.0 + run.iou_at(k))
        if task.box_prompt:
            row["box-IoU"] = rec["result"]["box-IoU"]
            row["box-Dice"] = rec["result"]["box-Dice"]
            row["box-PA"] = rec["result"].get("box-PA", float("nan"))  # absent in runs made before it existed
        if getattr(task, "text_prompt", None) is not None:
            for key in ("text-IoU", "text-best-IoU", "text-instances"):
                row[key] = rec["result"][key]
        row["latency_ms"] = rec["timing"]["latency_ms"]
        rows.append(row)
    return rows


def clicks_log(records: list[dict]) -> dict:
    """``clicks.json``: item → clicks (row/col), ious, oracle_ious."""
    return {rec["item"]: {k: rec["result"][k] for k in ("clicks", "ious", "oracle_ious")} for rec in records}


# --------------------------------------------------------------------------- comparison
def _csv_without(text: str, drop: tuple[str, ...]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep if i < len(r)] for r in rows])
    return out.getvalue()


def _canonical(obj) -> str:
    """JSON text with sorted keys (NaN written as ``NaN``, so equal runs compare equal)."""
    return json.dumps(obj, sort_keys=True)


def comparable_outputs(run_dir: str | Path, masks: bool = True) -> dict[str, object]:
    """Load a run folder's result files without their timing fields, to compare two runs.

    CSV files come back as text with the :data:`TIMING_FIELDS` columns removed (other bytes
    unchanged), JSON files as canonical JSON text (sorted keys) without those keys,
    ``items.jsonl`` as the list of records (canonical JSON text) without ``timing``, in the run's item order; ``run_card.json`` without run id,
    times, versions and status; with ``masks``, every ``masks/**.png`` as bytes.

    Parameters
    ----------
    run_dir : path
    masks : bool
        Include the predicted mask files.

    Returns
    -------
    dict
        File name (relative to ``run_dir``) → comparable content.
    """
    run_dir = Path(run_dir)
    out: dict[str, object] = {}
    for name in RESULT_FILES:
        path = run_dir / name
        if not path.is_file():
            continue
        drop = TIMING_FIELDS.get(name, ())
        if name.endswith(".csv"):
            out[name] = _csv_without(path.read_text(), drop)
        elif name == "items.jsonl":
            from .runlog import read_records

            recs = read_records(path)
            order = (
                json.loads((run_dir / "run_card.json").read_text())["items"]
                if (run_dir / "run_card.json").is_file()
                else sorted(recs)
            )
            out[name] = [_canonical({k: v for k, v in recs[i].items() if k not in drop}) for i in order if i in recs]
        else:
            data = json.loads(path.read_text())
            out[name] = _canonical({k: v for k, v in data.items() if k not in drop})
    if masks and (run_dir / "masks").is_dir():
        for p in sorted((run_dir / "masks").rglob("*.png")):
            out[str(p.relative_to(run_dir))] = p.read_bytes()
    return out


__all__ = [
    "RESULT_FILES",
    "TIMING_FIELDS",
    "ImageTask",
    "VOSTask",
    "check_corruption",
    "click_run",
    "clicks_log",
    "comparable_outputs",
    "corruption_params",
    "corruption_seed",
    "image_rows",
    "vos_evaluation",
    "vos_tables",
    "write_object_masks",
]
