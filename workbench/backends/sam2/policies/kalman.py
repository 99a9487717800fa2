"""Constant-velocity Kalman filter on boxes, as SAMURAI uses it for motion-aware mask selection.

SAMURAI (Yang et al., "SAMURAI: Adapting Segment Anything Model for Zero-Shot Visual Tracking
with Motion-Aware Memory", arXiv:2411.11922, section 3.2 "Motion modeling") predicts the
target's box on every frame with a linear Kalman filter whose state is

    ``[x, y, a, h, vx, vy, va, vh]``

(box centre ``x, y``, aspect ratio ``a = w / h``, height ``h`` and their velocities), and scores
each candidate mask of SAM 2 by the IoU of its box with the predicted box.

Source: the filter of the reference implementation, ``sam2/sam2/utils/kalman_filter.py`` of
yangchris11/samurai @ 76ba195984892b0d1e3db5d9c9f90bb62175680a (itself the SORT / DeepSORT
filter). This module is written from that file's maths; every arithmetic step keeps the
reference's operation order and numpy / scipy calls (``np.dot`` with the transposed motion
matrix, ``np.linalg.multi_dot``, ``scipy.linalg.cho_factor`` / ``cho_solve``), so means and
covariances come out bit for bit equal to the reference's (tested against
``golden/tracking_policies/samurai/kalman_trace.json``). Only what SAMURAI calls is here
(no gating distance, no batched prediction).

The reference's box helpers also keep their types, which matter downstream: SAMURAI turns the
list that :meth:`KalmanFilter.compute_iou` returns into a tensor with ``torch.tensor``, whose
dtype follows the element types (numpy ``float64`` scores, a plain ``int`` ``0`` for an empty
box), and that dtype decides the precision of the weighted score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg

Box = Sequence[Any] | np.ndarray
"""Four numbers: a list, tuple or array."""

STD_WEIGHT_POSITION = 1.0 / 20
"""Position noise relative to the box height (reference ``_std_weight_position``)."""
STD_WEIGHT_VELOCITY = 1.0 / 160
"""Velocity noise relative to the box height (reference ``_std_weight_velocity``)."""

NDIM = 4
"""Observed dimensions ``(x, y, a, h)``; the state has ``2 * NDIM`` entries."""


def xyxy_to_xyah(bbox: Box) -> list:
    """``[x1, y1, x2, y2]`` -> ``[xc, yc, w / h, h]`` (SAMURAI's ``xyxy_to_xyah``).

    A box of height 0 gets height 1 (so an empty box ``[0, 0, 0, 0]`` maps to
    ``[0.0, 0.0, 0.0, 1]``). The height keeps its type (an ``int`` for integer boxes).
    """
    x1, y1, x2, y2 = bbox
    xc = (x1 + x2) / 2
    yc = (y1 + y2) / 2
    w = x2 - x1
    h = y2 - y1
    if h == 0:
        h = 1
    return [xc, yc, w / h, h]


def xyah_to_xyxy(bbox: Box) -> list:
    """``[xc, yc, a, h]`` -> ``[x1, y1, x2, y2]`` (SAMURAI's ``xyah_to_xyxy``)."""
    xc, yc, a, h = bbox
    return [xc - a * h / 2, yc - h / 2, xc + a * h / 2, yc + h / 2]


def box_iou(bbox1: Box, bbox2: Box):
    """IoU of two ``[x1, y1, x2, y2]`` boxes with SAMURAI's conventions.

    Areas are ``(x2 - x1) * (y2 - y1)`` (no +1 for inclusive pixel indices). A second box equal
    to ``[0, 0, 0, 0]`` (SAMURAI's "no mask") scores the ``int`` 0, as does a zero union.
    """
    if list(bbox2) == [0, 0, 0, 0]:
        return 0
    x1, y1, x2, y2 = bbox1
    u1, v1, u2, v2 = bbox2
    inter = max(0, min(x2, u2) - max(x1, u1)) * max(0, min(y2, v2) - max(y1, v1))
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    return inter / union if union != 0 else 0


class KalmanFilter:
    """Linear Kalman filter with a constant-velocity motion model in ``(x, y, a, h)`` space.

    The filter object holds only constants (motion and observation matrices); a track is the
    pair ``(mean, covariance)`` that every method takes and returns (8 and 8 x 8 float64
    arrays), so a caller can keep, copy and restore it as plain data.

    Noise follows the reference: standard deviations proportional to the box height
    (:data:`STD_WEIGHT_POSITION`, :data:`STD_WEIGHT_VELOCITY`), except for the aspect ratio
    and its velocity, which have fixed ones (1e-2 / 1e-5 in the motion model, 1e-1 in the
    observation model).

    References
    ----------
    Yang et al., arXiv:2411.11922, eq. (4)-(6); ``sam2/sam2/utils/kalman_filter.py`` of
    yangchris11/samurai @ 76ba195.
    """

    def __init__(self) -> None:
        dt = 1.0
        self._motion_mat = np.eye(2 * NDIM, 2 * NDIM)
        for i in range(NDIM):
            self._motion_mat[i, NDIM + i] = dt
        self._update_mat = np.eye(NDIM, 2 * NDIM)
        self._std_weight_position = STD_WEIGHT_POSITION
        self._std_weight_velocity = STD_WEIGHT_VELOCITY

    @property
    def motion_matrix(self) -> np.ndarray:
        """The 8 x 8 state transition ``F`` (a copy)."""
        return self._motion_mat.copy()

    @property
    def observation_matrix(self) -> np.ndarray:
        """The 4 x 8 observation matrix ``H`` (a copy)."""
        return self._update_mat.copy()

    def initiate(self, measurement: Box) -> tuple[np.ndarray, np.ndarray]:
        """Start a track from one box.

        Parameters
        ----------
        measurement : sequence of 4 numbers
            ``(x, y, a, h)``: centre, aspect ratio ``w / h`` and height.

        Returns
        -------
        (ndarray, ndarray)
            Mean (8,) with zero velocities and diagonal covariance (8, 8).
        """
        h = measurement[3]
        wp, wv = self._std_weight_position, self._std_weight_velocity
        mean_pos = np.asarray(measurement, dtype=np.float64)
        mean = np.r_[mean_pos, np.zeros_like(mean_pos)]
        std = [2 * wp * h, 2 * wp * h, 1e-2, 2 * wp * h, 10 * wv * h, 10 * wv * h, 1e-5, 10 * wv * h]
        return mean, np.diag(np.square(std))

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prediction step: ``mean <- F mean``, ``P <- F P F^T + Q`` with ``Q`` from the
        current height.

        Returns
        -------
        (ndarray, ndarray)
            Predicted mean (8,) and covariance (8, 8).
        """
        h = mean[3]
        wp, wv = self._std_weight_position, self._std_weight_velocity
        std_pos = [wp * h, wp * h, 1e-2, wp * h]
        std_vel = [wv * h, wv * h, 1e-5, wv * h]
        motion_cov = np.diag(np.square(np.r_[std_pos, std_vel]))
        mean = np.dot(mean, self._motion_mat.T)
        covariance = np.linalg.multi_dot((self._motion_mat, covariance, self._motion_mat.T)) + motion_cov
        return mean, covariance

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state distribution seen in measurement space: ``(H mean, H P H^T + R)``.

        Returns
        -------
        (ndarray, ndarray)
            Mean (4,) and covariance (4, 4).
        """
        h = mean[3]
        wp = self._std_weight_position
        innovation_cov = np.diag(np.square([wp * h, wp * h, 1e-1, wp * h]))
        mean = np.dot(self._update_mat, mean)
        covariance = np.linalg.multi_dot((self._update_mat, covariance, self._update_mat.T))
        return mean, covariance + innovation_cov

    def update(self, mean: np.ndarray, covariance: np.ndarray, measurement: Box) -> tuple[np.ndarray, np.ndarray]:
        """Correction step with one ``(x, y, a, h)`` measurement (Cholesky solve for the gain).

        Returns
        -------
        (ndarray, ndarray)
            Corrected mean (8,) and covariance (8, 8).
        """
        projected_mean, projected_cov = self.project(mean, covariance)
        chol, lower = scipy.linalg.cho_factor(projected_cov, lower=True, check_finite=False)
        gain = scipy.linalg.cho_solve((chol, lower), np.dot(covariance, self._update_mat.T).T, check_finite=False).T
        innovation = measurement - projected_mean
        new_mean = mean + np.dot(innovation, gain.T)
        new_covariance = covariance - np.linalg.multi_dot((gain, projected_cov, gain.T))
        return new_mean, new_covariance

    def compute_iou(self, pred_xyah: Box, bboxes: Sequence[Box]) -> list:
        """IoU of the box ``pred_xyah`` (``(x, y, a, h)``, e.g. ``mean[:4]``) with each
        ``[x1, y1, x2, y2]`` box of ``bboxes`` (see :func:`box_iou`)."""
        pred = xyah_to_xyxy(pred_xyah)
        return [box_iou(pred, b) for b in bboxes]

    xyxy_to_xyah = staticmethod(xyxy_to_xyah)
    xyah_to_xyxy = staticmethod(xyah_to_xyxy)


__all__ = [
    "NDIM",
    "STD_WEIGHT_POSITION",
    "STD_WEIGHT_VELOCITY",
    "Box",
    "KalmanFilter",
    "box_iou",
    "xyah_to_xyxy",
    "xyxy_to_xyah",
]
