"""Detector-prompted video object segmentation: a detector replaces the first-frame annotation.

The survey (Zhang & Tang, arXiv 2503.12781, Table 6 and §4) lists two ways of prompting SAM 2
with a detector instead of a person; both are modes of :func:`run_detector_sequence`, set by
:attr:`DetectorSpec.mode <workbench.backends.detectors.DetectorSpec.mode>`:

``per_frame`` — *YOLO-SAM2* (Mansoori et al., "Self-prompting polyp segmentation in colonoscopy
    using hybrid YOLO-SAM 2 model", arXiv 2409.09484): every frame is detected and each box
    prompts the model on that frame alone; no memory links the frames. The run's video backend
    serves as the image predictor: its state is reset before each frame and every box is given
    with ``add_box`` on that frame and nothing else (for SAM 2 this is the image encoder and mask
    decoder with the no-memory embedding, as ``SAM2ImagePredictor`` runs them; the classical
    backend segments the box with GrabCut). Each detection is an object of its frame only.

``detect_track`` — *Det-SAM2* (Wang, Zhou & Liu, "Det-SAM2: technical report on the
    self-prompting segmentation framework based on segment anything model 2", arXiv
    2411.18977): the detector runs every ``detect_interval`` frames (frames 0, k, 2k, ...; k is
    Det-SAM2's ``detect_interval``); on such a frame a detection becomes a **new object** —
    prompted with its box on that frame — when its box IoU with the box of every object tracked
    on that frame (the box around the object's mask there) is below ``iou_threshold``
    (:func:`workbench.metrics.boxes.unmatched_boxes`, detections taken highest score first, each
    new one counting as tracked for the next). Detections that match a tracked object change
    nothing (tracked objects are not re-prompted). The video predictor then tracks every object
    from that frame to the next detection frame (``propagate(start_frame_idx=t,
    max_frame_num_to_track=k)``), and so on to the end of the video. The frame where tracking
    resumes is tracked again, as SAM 2 does when asked to start there; its last result counts.

Scoring against DAVIS ground truth. Detector-made objects carry no ground-truth id, so they are
matched to the annotated objects before J and F (:mod:`workbench.protocols.matching`): one-to-one, maximising
the summed mask IoU (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``), where a
predicted object is compared with each ground-truth object **on the first frame it appears on**
(its creation frame); a pair needs IoU > 0. In ``detect_track`` mode the objects created on one
frame are matched together, frame after frame in time order, each time to the annotated objects
that no earlier-created object took: an annotated object keeps the first prediction matched to
it, and a later duplicate of it (e.g. re-detected after the track drifted) is a false object.
In ``per_frame`` mode every detection is an object of one frame, so each frame is matched on its
own (per-frame identities, as YOLO-SAM2 has none to keep). Every annotated object
(ids other than 0 and 255 on any frame) is scored; an object no prediction matches is scored
against an empty mask. Predicted objects that match nothing are kept in the id map as
:data:`UNMATCHED_ID` (they count as wrong pixels in G, never in J or F). Objects overlap as in
the VOS protocol: on one frame the object created first wins a pixel (lower id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..backends.base import VideoBackend
from ..backends.detectors import DetectorSpec
from ..errors import DataError
from ..io.frames import FrameSource
from ..metrics.boxes import mask_box, unmatched_boxes
from ..metrics.vos_eval import evaluate_vos_arrays
from ..types import Detections, Detector, FrameMasks
from .matching import UNMATCHED_ID, MatchedVOSRun, match_created, match_objects, merged_ids, relabel
from .vos import VOID_ID, first_appearances

__all__ = ["DETECTOR_PROMPT", "UNMATCHED_ID", "DetectorVOSRun", "match_objects", "run_detector_sequence"]

DETECTOR_PROMPT = "detector"
"""The ``prompt`` of a VOS run whose objects come from a detector (``VOSRunSpec.detector``)."""


@dataclass
class DetectorVOSRun(MatchedVOSRun):
    """Result of one detector-prompted sequence (:class:`~workbench.protocols.matching.MatchedVOSRun`
    plus what the detector did).

    Attributes
    ----------
    mode : str
        ``"detect_track"`` or ``"per_frame"``.
    detections : int
        Boxes that prompted or were tested (after the score threshold), all frames.
    detection_frames : int
        Frames the detector ran on.
    detect_seconds : float
        Wall time spent in the detector.

    In ``matches``, ``obj_id`` is the object's id in the run (in ``per_frame`` mode the index
    of its box on the frame, from 1).
    """

    mode: str = "detect_track"
    detections: int = 0
    detection_frames: int = 0
    detect_seconds: float = 0.0


class _Detect:
    """The detector on the sequence's frames, filtered by the spec, timed."""

    def __init__(self, detector: Detector, frames: FrameSource, spec: DetectorSpec):
        self.detector, self.frames, self.spec = detector, frames, spec
        self.seconds, self.count, self.frames_run = 0.0, 0, 0

    def __call__(self, t: int) -> Detections:
        start = time.perf_counter()
        frame = self.frames[t]
        det = self.detector.detect(frame, frame_idx=t)
        det = det.filter(self.spec.score_threshold, self.spec.classes).clipped(frame.shape[0], frame.shape[1])
        self.seconds += time.perf_counter() - start
        self.count += len(det)
        self.frames_run += 1
        return det


def _per_frame(backend: VideoBackend, gt: np.ndarray, detect: _Detect, gt_objects: list[int], sequence: str):
    shape = gt.shape[1:]
    pred = np.zeros(gt.shape, dtype=np.uint8)
    matches: list[dict] = []
    seconds, n = 0.0, 0
    for t in range(gt.shape[0]):
        det = detect(t)
        if not len(det):
            continue
        backend.reset()
        start = time.perf_counter()
        fms = [backend.add_box(t, j, box) for j, box in enumerate(det.boxes, start=1)]
        seconds += time.perf_counter() - start
        n += 1
        fm = fms[-1]  # every object of the frame
        _check_shape(fm, shape, sequence)
        ids = merged_ids(fm, shape)
        present = [g for g in gt_objects if (gt[t] == g).any()]
        matched, ious = match_objects(ids, gt[t], list(range(1, len(det) + 1)), present)
        pred[t] = relabel(ids, matched)
        matches += [
            {"obj_id": j, "frame": t, "gt_id": matched.get(j), "iou": ious.get(j, 0.0)} for j in range(1, len(det) + 1)
        ]
    return pred, matches, n, seconds


def _detect_track(backend: VideoBackend, gt: np.ndarray, detect: _Detect, spec: DetectorSpec, sequence: str):
    t_count, shape = gt.shape[0], gt.shape[1:]
    ids = np.zeros(gt.shape, dtype=np.int32)
    created: dict[int, int] = {}
    seconds, n = 0.0, 0
    stops = list(range(0, t_count, spec.detect_interval))
    for i, t in enumerate(stops):
        det = detect(t)
        tracked = [b for o in np.unique(ids[t]) if o > 0 and (b := mask_box(ids[t] == o)) is not None]
        for j in unmatched_boxes(det.boxes, np.array(tracked, np.float32).reshape(-1, 4), spec.iou_threshold):
            obj_id = len(created) + 1
            fm = backend.add_box(t, obj_id, det.boxes[j])
            _check_shape(fm, shape, sequence)
            created[obj_id] = t
            ids[t] = merged_ids(fm, shape)
        if not created:
            continue
        end = stops[i + 1] if i + 1 < len(stops) else t_count - 1
        start = time.perf_counter()
        for fm in backend.propagate(start_frame_idx=t, max_frame_num_to_track=end - t):
            n += 1
            _check_shape(fm, shape, sequence)
            ids[fm.frame_idx] = merged_ids(fm, shape)
        seconds += time.perf_counter() - start
    return ids, created, n, seconds


def _check_shape(fm: FrameMasks, shape: tuple[int, ...], sequence: str) -> None:
    if fm.masks.shape[1:] != tuple(shape):
        raise DataError(f"{sequence}: backend returned masks of size {fm.masks.shape[1:]}, GT is {tuple(shape)}.")


def run_detector_sequence(
    backend: VideoBackend,
    frames,
    gt: np.ndarray,
    detector: Detector,
    spec: DetectorSpec | None = None,
    sequence: str = "",
) -> DetectorVOSRun:
    """Prompt a video model with a detector's boxes (``per_frame`` or ``detect_track``, see the
    module docstring), match the objects to the annotations and score with DAVIS J and F.

    Parameters
    ----------
    backend : VideoBackend
    frames : str, Path or sequence of (H, W, 3) uint8 arrays
        What ``backend.init_state`` accepts (a JPEG folder for DAVIS); the detector reads the
        same frames.
    gt : (T, H, W) uint8 array
        Ground-truth ids (0 background, 255 void), used only to score (and by a ground-truth
        detector, which holds its own copy).
    detector : Detector
        E.g. ``make_detector(spec, annotations=gt, key=sequence)``.
    spec : DetectorSpec, optional
        Mode, ``detect_interval``, ``iou_threshold``, ``score_threshold``, ``classes``; default
        ``DetectorSpec()``.
    sequence : str
        Name used in keys and messages.

    Returns
    -------
    DetectorVOSRun
        ``prompt`` ``"detector"``; ``obj_ids`` every annotated object (scored); ``pred`` the
        ground-truth-numbered id map (:data:`UNMATCHED_ID` for false objects); ``num_frames``
        and ``propagate_seconds`` count segmentation (per-frame prompting or propagation), not
        detection (``detect_seconds``); ``prompt_frames`` ground-truth id -> frame of the
        predicted object matched to it (``detect_track``).

    Raises
    ------
    DataError
        Frame and annotation counts or sizes differ; the annotations hold no object.
    """
    spec = DetectorSpec() if spec is None else spec
    backend.init_state(frames)
    if backend.num_frames != gt.shape[0]:
        raise DataError(f"{sequence}: {backend.num_frames} frames but {gt.shape[0]} annotations.")
    gt_objects = list(first_appearances(gt))
    if not gt_objects:
        raise DataError(f"{sequence}: the annotations hold no object to score.")
    source = frames if isinstance(frames, FrameSource) else FrameSource(frames)
    detect = _Detect(detector, source, spec)
    prompt_frames: dict[int, int] = {}
    if spec.mode == "per_frame":
        pred, matches, n, seconds = _per_frame(backend, gt, detect, gt_objects, sequence)
    else:
        ids, created, n, seconds = _detect_track(backend, gt, detect, spec, sequence)
        pred, matches, prompt_frames = match_created(ids, gt, created, gt_objects)
    if source is not frames:
        source.close()
    evaluation = evaluate_vos_arrays(
        {g: gt == g for g in gt_objects}, {g: pred == g for g in gt_objects}, void=gt == VOID_ID, sequence=sequence
    )
    backend.reset()
    return DetectorVOSRun(
        sequence,
        DETECTOR_PROMPT,
        gt_objects,
        pred,
        evaluation,
        n,
        seconds,
        prompt_frames=prompt_frames,
        mode=spec.mode,
        matches=matches,
        detections=detect.count,
        detection_frames=detect.frames_run,
        detect_seconds=detect.seconds,
    )
