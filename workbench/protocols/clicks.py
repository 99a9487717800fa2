"""Simulated user and the interactive click protocol (NoC, mIoU@k).

The simulated user follows RITM's ``Clicker`` (Sofiiuk et al., "Reviving Iterative Training
with Mask Guidance for Interactive Segmentation", 2022; reference implementation
``isegm/inference/clicker.py``, ``_get_next_click`` with ``padding=True``): the next click goes
to the pixel farthest from the boundary of the largest error region. The NoC convention is
that of ``isegm/inference/utils.py`` (``compute_noc_metric``).

Coordinates: clicks (:class:`workbench.types.Click`) and masks are **row, column**. Prompts sent
to a backend use SAM's names and order (``point_coords`` N x 2 **x, y**, ``point_labels`` 1/0),
built with :func:`workbench.types.clicks_to_prompt`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError, PromptError, UnknownNameError
from ..metrics.image import iou
from ..types import Click, clicks_to_prompt

if TYPE_CHECKING:
    from ..backends.base import ImageBackend

MULTIMASK_MODES = ("first", "always", "never")
NO_ERROR_MODES = ("ritm", "raise")


def _as_bool_mask(mask: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 2-D (H, W) mask, got an array of shape {arr.shape}.")
    return arr.astype(bool) if arr.dtype == bool else arr != 0


def _distance_map(region: np.ndarray) -> np.ndarray:
    """Exact L2 distance of every pixel of ``region`` to the nearest pixel outside it, with
    the image border counting as outside (1-pixel zero padding), as RITM computes it."""
    padded = np.pad(region.astype(np.uint8), 1, mode="constant")
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist[1:-1, 1:-1]


class ClickSimulator:
    """RITM's simulated user: one click at a time at the centre of the largest error.

    Parameters
    ----------
    gt_mask : (H, W) bool array
        Ground-truth object mask (non-zero = object).
    ignore_mask : (H, W) bool array, optional
        True where pixels are not scored (e.g. GrabCut's 128 band): never clicked, never an
        error.
    on_no_error : {"ritm", "raise"}
        What :meth:`next_click` does when no un-clicked error pixel is left (prediction
        perfect outside the ignore region). ``"ritm"`` (default) returns what the reference
        returns in that case: a negative click at row 0, column 0 (it may repeat an earlier
        click and may lie in the ignore region). ``"raise"`` raises :class:`PromptError`.

    Raises
    ------
    DataError
        ``gt_mask`` is not 2-D, or ``ignore_mask`` has another shape.
    UnknownNameError
        ``on_no_error`` is not one of the valid options.

    Notes
    -----
    Rule (RITM ``Clicker._get_next_click``, ``padding=True``): false negatives
    ``gt & ~pred & ~ignore`` and false positives ``~gt & pred & ~ignore`` are each padded by
    one background pixel and distance transformed (``cv2.distanceTransform``, L2, exact mask);
    pixels clicked before are zeroed. The click is positive iff the largest false-negative
    distance is strictly larger than the largest false-positive one (ties go negative), and it
    lands on the first pixel, in row-major order, reaching that maximum.
    """

    def __init__(
        self,
        gt_mask: np.ndarray,
        ignore_mask: np.ndarray | None = None,
        on_no_error: str = "ritm",
    ):
        self.gt_mask = _as_bool_mask(gt_mask, "gt_mask")
        if ignore_mask is None:
            self.ignore_mask = np.zeros_like(self.gt_mask)
        else:
            self.ignore_mask = _as_bool_mask(ignore_mask, "ignore_mask")
            if self.ignore_mask.shape != self.gt_mask.shape:
                raise DataError(
                    f"ignore_mask has shape {self.ignore_mask.shape} but gt_mask has shape "
                    f"{self.gt_mask.shape}; give both masks for the same image."
                )
        if on_no_error not in NO_ERROR_MODES:
            raise UnknownNameError("on_no_error mode", on_no_error, NO_ERROR_MODES)
        self.on_no_error = on_no_error
        self.reset()

    @classmethod
    def from_label_mask(cls, mask: np.ndarray, **kwargs) -> ClickSimulator:
        """Build a simulator from a uint8 label mask: 255 object, 128 ignore, 0 background.

        Follows RITM's ``GrabCutDataset``: value 128 is ignored, values above 128 are object,
        everything else background.

        Parameters
        ----------
        mask : (H, W) uint8 array
        **kwargs
            Passed to the constructor (``on_no_error``).

        Raises
        ------
        DataError
            ``mask`` is not a 2-D integer array.
        """
        gt, ignore = label_mask_to_gt(mask)
        return cls(gt, ignore, **kwargs)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the ground truth."""
        return self.gt_mask.shape

    @property
    def clicks(self) -> list[Click]:
        """Clicks made so far, oldest first (a copy)."""
        return list(self._clicks)

    def reset(self) -> None:
        """Forget every click made so far."""
        self._clicks: list[Click] = []
        self._not_clicked = np.ones(self.gt_mask.shape, dtype=bool)

    def error_maps(self, pred_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """False-negative and false-positive maps, ``(H, W)`` bool each, ignore region off.

        Raises
        ------
        DataError
            ``pred_mask`` does not have the ground truth's shape.
        """
        pred = _as_bool_mask(pred_mask, "pred_mask")
        if pred.shape != self.gt_mask.shape:
            raise DataError(
                f"pred_mask has shape {pred.shape} but the ground truth has shape "
                f"{self.gt_mask.shape}; predict at the original image size."
            )
        scored = ~self.ignore_mask
        fn = self.gt_mask & ~pred & scored
        fp = ~self.gt_mask & pred & scored
        return fn, fp

    def next_click(self, pred_mask: np.ndarray) -> Click:
        """Make (and remember) the next click for the current prediction.

        Parameters
        ----------
        pred_mask : (H, W) bool array
            Current prediction (non-zero = object); all False before the first click.

        Returns
        -------
        Click
            Row/column click; ``is_positive`` True on a false negative, False on a false
            positive. With no un-clicked error left, see ``on_no_error``.

        Raises
        ------
        DataError
            ``pred_mask`` has the wrong shape.
        PromptError
            No click can be made and ``on_no_error="raise"``.
        """
        fn, fp = self.error_maps(pred_mask)
        fn_dist = _distance_map(fn) * self._not_clicked
        fp_dist = _distance_map(fp) * self._not_clicked
        fn_max, fp_max = fn_dist.max(), fp_dist.max()
        if fn_max == 0 and fp_max == 0 and self.on_no_error == "raise":
            raise PromptError(
                "No click can be made: the prediction has no error left outside the ignore "
                "region that was not clicked already. Stop the protocol here, or use "
                "on_no_error='ritm' to get RITM's negative click at (0, 0)."
            )
        is_positive = bool(fn_max > fp_max)
        dist = fn_dist if is_positive else fp_dist
        row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
        click = Click(y=int(row), x=int(col), is_positive=is_positive)
        self._clicks.append(click)
        self._not_clicked[click.y, click.x] = False
        return click


def label_mask_to_gt(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a 0/128/255 label mask into ``(gt, ignore)``, both ``(H, W)`` bool.

    128 is ignore, values above 128 object, the rest background (RITM ``GrabCutDataset``).

    Raises
    ------
    DataError
        ``mask`` is not a 2-D integer array.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"A label mask must be a 2-D integer (uint8) array with 255 = object, 128 = ignore, "
            f"0 = background; got dtype {arr.dtype} and shape {arr.shape}."
        )
    return arr > 128, arr == 128


@dataclass
class ClickRun:
    """One image's interactive session under the simulated user.

    Attributes
    ----------
    clicks : list of Click
        Clicks in order (row/column).
    ious : list of float
        IoU (ignore region excluded) of the most confident mask after each click.
    oracle_ious : list of float
        IoU of the best candidate mask against the ground truth after each click (best-of-3
        oracle when several masks are returned, else equal to ``ious``).
    latencies_s : list of float
        Wall-clock seconds of each ``backend.predict`` call.
    stop_at_iou : float or None
        IoU at which the run was allowed to stop early (None: ran all ``max_clicks``).
    max_clicks : int
        Click budget the run was made with.
    kept_mask : (H, W) bool array or None
        The chosen mask after ``keep_mask_after`` clicks (or the last click if the run
        stopped earlier), when asked for; used for qualitative figures.
    """

    clicks: list[Click] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)
    oracle_ious: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    stop_at_iou: float | None = None
    max_clicks: int = 20
    kept_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ious)

    def noc(self, threshold: float, max_clicks: int = 20) -> int:
        """Number of clicks to reach ``threshold`` IoU (RITM ``compute_noc_metric``).

        Parameters
        ----------
        threshold : float
            IoU in [0, 1], e.g. 0.85 or 0.90.
        max_clicks : int
            Only the first ``max_clicks`` clicks count; returned when never reached.

        Returns
        -------
        int
            1-based index of the first click with IoU >= ``threshold``, else ``max_clicks``.

        Raises
        ------
        ConfigError
            ``max_clicks`` < 1, or the run stopped early (``stop_at_iou`` below
            ``threshold``) before reaching ``threshold``, so the answer is unknown.
        """
        if max_clicks < 1:
            raise ConfigError(f"max_clicks must be at least 1, got {max_clicks}.")
        vals = np.asarray(self.ious[:max_clicks], dtype=float) >= threshold
        if vals.any():
            return int(np.argmax(vals)) + 1
        stopped_early = len(self.ious) < min(max_clicks, self.max_clicks)
        if stopped_early and self.stop_at_iou is not None and self.stop_at_iou < threshold:
            raise ConfigError(
                f"This run stopped at IoU >= {self.stop_at_iou} after {len(self.ious)} clicks, "
                f"so NoC@{threshold} is unknown; rerun with stop_at_iou >= {threshold} or None."
            )
        return max_clicks

    def iou_at(self, k: int, oracle: bool = False) -> float:
        """IoU after ``k`` clicks (1-based), the last value carried forward past the end.

        Raises
        ------
        ConfigError
            ``k`` < 1.
        DataError
            The run has no clicks.
        """
        if k < 1:
            raise ConfigError(f"k counts clicks from 1; got k={k}.")
        values = self.oracle_ious if oracle else self.ious
        if not values:
            raise DataError("This ClickRun has no clicks; run run_click_protocol first.")
        return float(values[min(k, len(values)) - 1])


def _check_multimask(multimask: str) -> None:
    if multimask not in MULTIMASK_MODES:
        raise UnknownNameError("multimask mode", multimask, MULTIMASK_MODES)


def run_click_protocol(
    backend: ImageBackend,
    image: np.ndarray,
    gt_mask: np.ndarray,
    ignore_mask: np.ndarray | None = None,
    max_clicks: int = 20,
    multimask: str = "first",
    stop_at_iou: float | None = None,
    keep_mask_after: int | None = None,
) -> ClickRun:
    """Run the simulated user against an image backend (RITM ``evaluate_sample`` protocol).

    The first click is computed from an empty prediction. Each call sends every click so far
    (``point_coords`` (N, 2) x, y; ``point_labels`` 1/0) and, from the second call on, the
    previously chosen mask's low-res logits as ``mask_input`` (1, h, w). The chosen mask is the
    one with the highest ``iou_predictions`` (most confident); it drives the next click.

    Parameters
    ----------
    backend : workbench.backends.base.ImageBackend
        Anything with ``set_image(image)`` and ``predict(...) -> ImagePrediction``.
    image : (H, W, 3) uint8 RGB array
    gt_mask : (H, W) bool array
    ignore_mask : (H, W) bool array, optional
        True = not scored and never clicked.
    max_clicks : int
        Click budget (RITM: 20).
    multimask : {"first", "always", "never"}
        ``multimask_output`` True on the first click only (SAM's advice for ambiguous single
        clicks), on every click, or never.
    stop_at_iou : float, optional
        Stop as soon as the chosen mask reaches this IoU (RITM ``max_iou_thr``); None runs
        all ``max_clicks``.
    keep_mask_after : int, optional
        Keep the chosen mask after this many clicks in ``ClickRun.kept_mask``.

    Returns
    -------
    ClickRun

    Raises
    ------
    DataError
        ``image`` and ``gt_mask`` (or ``ignore_mask``) sizes differ, or a prediction has the
        wrong size.
    UnknownNameError
        ``multimask`` is not a valid mode.
    ConfigError
        ``max_clicks`` < 1.
    """
    _check_multimask(multimask)
    if max_clicks < 1:
        raise ConfigError(f"max_clicks must be at least 1, got {max_clicks}.")
    simulator = ClickSimulator(gt_mask, ignore_mask)
    image = np.asarray(image)
    if image.shape[:2] != simulator.shape:
        raise DataError(
            f"image is {image.shape[:2]} (H, W) but gt_mask is {simulator.shape}; give the "
            "ground truth of this image at its original size."
        )
    gt, ignore = simulator.gt_mask, simulator.ignore_mask
    backend.set_image(image)
    run = ClickRun(stop_at_iou=stop_at_iou, max_clicks=max_clicks)
    pred = np.zeros(simulator.shape, dtype=bool)
    mask_input = None
    for k in range(max_clicks):
        run.clicks.append(simulator.next_click(pred))
        point_coords, point_labels = clicks_to_prompt(simulator.clicks)
        multimask_output = multimask == "always" or (multimask == "first" and k == 0)
        start = time.perf_counter()
        out = backend.predict(
            point_coords=point_coords,
            point_labels=point_labels,
            box=None,
            mask_input=mask_input,
            multimask_output=multimask_output,
        )
        run.latencies_s.append(time.perf_counter() - start)
        masks = np.asarray(out.masks)
        if masks.ndim != 3 or masks.shape[1:] != simulator.shape:
            raise DataError(
                f"The backend returned masks of shape {masks.shape}; expected (C, H, W) with "
                f"(H, W) = {simulator.shape}, the original image size."
            )
        best = out.best()
        pred = masks[best].astype(bool)
        mask_input = np.asarray(out.low_res_logits)[best : best + 1]
        run.ious.append(float(iou(pred, gt, ignore=ignore)))
        run.oracle_ious.append(max(float(iou(m.astype(bool), gt, ignore=ignore)) for m in masks))
        if keep_mask_after is not None and k < keep_mask_after:
            run.kept_mask = pred
        if stop_at_iou is not None and run.ious[-1] >= stop_at_iou:
            break
    return run


def run_click_protocol_many(
    backend: ImageBackend,
    items: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    desc: str = "click protocol",
    **kwargs,
) -> list[ClickRun]:
    """Run :func:`run_click_protocol` on every ``(image, gt_mask, ignore_mask)`` of ``items``
    with a tqdm progress bar; ``kwargs`` are passed on (``max_clicks``, ``multimask``,
    ``stop_at_iou``)."""
    total = len(items) if isinstance(items, Sequence) else None
    runs = []
    for image, gt, ignore in tqdm(items, desc=desc, total=total, unit="image"):
        runs.append(run_click_protocol(backend, image, gt, ignore, **kwargs))
    return runs


def _pct(threshold: float) -> str:
    return f"{threshold * 100:g}"


def summarize_click_runs(
    runs: Sequence[ClickRun],
    thresholds: Sequence[float] = (0.85, 0.90),
    ks: Sequence[int] = (1, 3, 5),
    max_clicks: int = 20,
) -> dict[str, float]:
    """Dataset-level numbers as RITM and SAM papers report them.

    Returns
    -------
    dict
        ``NoC@85`` … mean NoC per threshold (keys use the threshold in percent);
        ``>=20@85`` … number of images whose NoC equals ``max_clicks`` (RITM's count, which
        also includes images reaching the threshold exactly at the last click);
        ``mIoU@k`` and ``oracle-mIoU@k`` mean IoU after k clicks (carried forward);
        ``n_images``; ``mean_latency_s`` mean seconds per ``predict`` call.

    Raises
    ------
    DataError
        ``runs`` is empty.
    """
    if len(runs) == 0:
        raise DataError("No runs to summarise; run run_click_protocol on at least one image.")
    out: dict[str, float] = {"n_images": len(runs)}
    for t in thresholds:
        nocs = np.array([r.noc(t, max_clicks) for r in runs])
        out[f"NoC@{_pct(t)}"] = float(nocs.mean())
        out[f">={max_clicks}@{_pct(t)}"] = int((nocs == max_clicks).sum())
    for k in ks:
        out[f"mIoU@{k}"] = float(np.mean([r.iou_at(k) for r in runs]))
        out[f"oracle-mIoU@{k}"] = float(np.mean([r.iou_at(k, oracle=True) for r in runs]))
    latencies = [s for r in runs for s in r.latencies_s]
    out["mean_latency_s"] = float(np.mean(latencies)) if latencies else float("nan")
    return out


def miou_curve(runs: Sequence[ClickRun], max_clicks: int = 20, oracle: bool = False) -> np.ndarray:
    """Mean IoU after 1 … ``max_clicks`` clicks: ``(max_clicks,)`` float64, values carried
    forward for runs that stopped early.

    Raises
    ------
    DataError
        ``runs`` is empty.
    """
    if len(runs) == 0:
        raise DataError("No runs to average; run run_click_protocol on at least one image.")
    return np.array([np.mean([r.iou_at(k, oracle=oracle) for r in runs]) for k in range(1, max_clicks + 1)])
