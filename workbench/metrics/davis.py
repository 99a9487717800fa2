"""DAVIS video object segmentation measures: J, F, their statistics, and the two G's.

Behaviour matches the reference evaluator ``davis2017-evaluation`` (``davis2017/metrics.py``
``db_eval_iou`` / ``db_eval_boundary``, ``davis2017/utils.py`` ``db_statistics``); the
implementation is the workbench's own, vectorised over frames. Definitions: Perazzi et al.,
"A Benchmark Dataset and Evaluation Methodology for Video Object Segmentation", CVPR 2016;
Pont-Tuset et al., "The 2017 DAVIS Challenge", arXiv 1704.00675; survey (arXiv 2503.12781)
§4.3: J eq. 5, F eq. 6, J&F eq. 7, G eq. 8.

Two different "G" exist in the literature and both are offered, named apart:

* :func:`global_accuracy` — the survey's G (§4.3.2): correctly classified pixels / all pixels.
* :func:`youtube_vos_g` — YouTube-VOS's overall score: mean of J and F over seen and unseen
  categories (Xu et al., ECCV 2018).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import DataError
from .image import as_mask, boundary_prf_stack

__all__ = [
    "db_eval_boundary",
    "db_eval_iou",
    "db_statistics",
    "global_accuracy",
    "youtube_vos_g",
]


def _stack(annotation, segmentation, void_pixels):
    """Validate and return ``(T, H, W)`` bool stacks and whether the input was 2-D."""
    a = as_mask(annotation, "annotation")
    s = as_mask(segmentation, "segmentation")
    if a.shape != s.shape:
        raise DataError(
            f"Annotation shape {a.shape} and segmentation shape {s.shape} differ; results "
            "must have the ground-truth size (DAVIS 480p frames are 480x854)."
        )
    if a.ndim not in (2, 3):
        raise DataError(f"Expected (H, W) or (T, H, W) masks; got shape {a.shape}.")
    v = None
    if void_pixels is not None:
        v = as_mask(void_pixels, "void_pixels")
        if v.shape != a.shape:
            raise DataError(f"void_pixels shape {v.shape} differs from annotation shape {a.shape}.")
    single = a.ndim == 2
    if single:
        a, s = a[None], s[None]
        v = None if v is None else v[None]
    return a, s, v, single


def jaccard_stack(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None) -> np.ndarray:
    """Per-frame J of ``(T, H, W)`` bool stacks (no checks). Empty union gives 1."""
    inter = gt & pred
    union = gt | pred
    if void is not None:
        inter &= ~void
        union &= ~void
    n_i = np.count_nonzero(inter, axis=(1, 2))
    n_u = np.count_nonzero(union, axis=(1, 2))
    return np.where(n_u > 0, n_i / np.maximum(n_u, 1), 1.0)


def db_eval_iou(annotation, segmentation, void_pixels=None):
    """Region similarity J (Jaccard index) per frame.

    Parameters
    ----------
    annotation, segmentation : array_like, ``(H, W)`` or ``(T, H, W)``
        Ground-truth and predicted binary masks of ONE object (bool or 0/1), row/column.
    void_pixels : array_like or None
        Same shape, True where pixels are not scored (DAVIS void label 255).

    Returns
    -------
    float or np.ndarray of float64, shape ``(T,)``
        ``|A ∩ B| / |A ∪ B|`` over non-void pixels; 1.0 where the union is empty.

    Raises
    ------
    DataError
        Shapes differ or masks are not binary.
    """
    a, s, v, single = _stack(annotation, segmentation, void_pixels)
    j = jaccard_stack(a, s, v)
    return float(j[0]) if single else j


def db_eval_boundary(annotation, segmentation, void_pixels=None, bound_th: float = 0.008):
    """Contour accuracy F (boundary F-measure) per frame.

    Boundaries via the ``seg2bmap`` rule (see :func:`workbench.metrics.image.boundary_map`)
    of ``mask & ~void``, matched within a disk of radius ``ceil(bound_th * diagonal)`` pixels
    (``bound_th`` pixels when ``>= 1``), as in davis2017-evaluation's ``f_measure``.

    Parameters
    ----------
    annotation, segmentation : array_like, ``(H, W)`` or ``(T, H, W)``
        Ground-truth and predicted binary masks of one object.
    void_pixels : array_like or None
        True where pixels are not scored.
    bound_th : float
        Tolerance, fraction of the diagonal (< 1) or pixels (>= 1). Default 0.008.

    Returns
    -------
    float or np.ndarray of float64, shape ``(T,)``
        F in [0, 1]; 1.0 when neither mask has a boundary, 0.0 when only one has.

    Raises
    ------
    DataError
        Shapes differ or masks are not binary.
    """
    a, s, v, single = _stack(annotation, segmentation, void_pixels)
    f = boundary_prf_stack(s, a, v, bound_th)[2]
    return float(f[0]) if single else f


def _nanmean(x: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.nanmean(x)) if x.size else float("nan")


def db_statistics(per_frame, reference_quirk: bool = False) -> tuple[float, float, float]:
    """Mean, recall and decay of a per-frame measure (J or F) of one object.

    * mean: ``nanmean(per_frame)``;
    * recall: fraction of frames scoring above 0.5 (NaN frames count as failures);
    * decay: performance loss over time. With ``n`` frames, quartile edges are
      ``e_k = round(1 + k (n - 1) / 4) - 1`` (k = 0..4, halves rounded up); the first
      quarter is frames ``e_0 .. e_1`` and the last quarter frames ``e_3 .. e_4`` (both
      edges included, so neighbouring quarters share a frame), and
      ``decay = nanmean(first quarter) - nanmean(last quarter)``.

    Parameters
    ----------
    per_frame : array_like of float, shape ``(n,)``
        Per-frame values, e.g. J of frames 1 .. T-2 (DAVIS leaves out the first and last
        frame).
    reference_quirk : bool
        False (default): correct decay for any length. True: reproduce davis2017-evaluation,
        which stores the edges as ``uint8``: past 256 frames the edges wrap modulo 256, the
        quarters become wrong and the last one is often empty (decay NaN). For ``n <= 256``
        both give identical results. The quirk's wrap is reproduced as an explicit
        ``% 256`` (what the uint8 cast does on common platforms).

    Returns
    -------
    (mean, recall, decay) : tuple of float
        NaN for an empty input.
    """
    x = np.asarray(per_frame, dtype=np.float64).reshape(-1)
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = _nanmean(x)
    recall = float(np.mean(x > 0.5))
    edges = np.round(np.linspace(1.0, float(n), 5) + 1e-10).astype(np.int64) - 1
    if reference_quirk:
        edges = edges % 256
    first = x[edges[0] : edges[1] + 1]
    last = x[edges[3] : edges[4] + 1]
    decay = _nanmean(first) - _nanmean(last)
    return mean, recall, decay


def global_accuracy(annotations, segmentations, void_pixels=None) -> float:
    """The survey's G (§4.3.2, eq. 8): correctly classified pixels / all pixels.

    Parameters
    ----------
    annotations, segmentations : array_like, equal shape, e.g. ``(T, H, W)`` or ``(H, W)``
        Binary masks or integer id maps (multi-object videos: compare id maps, so a pixel is
        correct when its predicted id equals the ground-truth id, background included).
    void_pixels : array_like or None
        True where pixels are not scored.

    Returns
    -------
    float
        In [0, 1], pooled over all frames (not a mean of per-frame values); 1.0 when every
        pixel is void.

    Raises
    ------
    DataError
        Shapes differ.
    """
    a, s = np.asarray(annotations), np.asarray(segmentations)
    if a.shape != s.shape:
        raise DataError(f"Annotation shape {a.shape} and segmentation shape {s.shape} differ.")
    correct = a == s
    if void_pixels is not None:
        v = as_mask(void_pixels, "void_pixels")
        if v.shape != a.shape:
            raise DataError(f"void_pixels shape {v.shape} differs from annotation shape {a.shape}.")
        correct = correct[~v]
    return 1.0 if correct.size == 0 else float(np.count_nonzero(correct)) / correct.size


def youtube_vos_g(j_seen: float, j_unseen: float, f_seen: float, f_unseen: float) -> float:
    """YouTube-VOS overall score G: ``(J_seen + J_unseen + F_seen + F_unseen) / 4``.

    Not the survey's G (see :func:`global_accuracy`). Inputs are the J and F means over the
    seen and unseen categories of the YouTube-VOS validation split (Xu et al., ECCV 2018).
    """
    return (float(j_seen) + float(j_unseen) + float(f_seen) + float(f_unseen)) / 4.0
