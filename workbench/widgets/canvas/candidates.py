"""The candidate strip under the prompt canvas: one thumbnail per candidate mask of the active
object, with the model's IoU estimate and, when ground truth is loaded, the true IoU; a button
under each selects it (``session.select_candidate``)."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import numpy as np

from .draw import shrink, thumbnail_jpeg


def _fmt(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{float(v):.2f}"


class CandidatePanel(W.HBox):
    """Thumbnails and select buttons for up to ``max_candidates`` candidates.

    Attributes
    ----------
    images : list of ipywidgets.Image
        JPEG thumbnails (``value`` bytes) of the candidates over the image.
    buttons : list of ipywidgets.Button
        ``description`` like ``"#1 pred 0.93 · IoU 0.88"``; the selected one has
        ``button_style == "success"``.
    shown : int
        Number of candidates displayed (0 when hidden).
    """

    def __init__(
        self, image: np.ndarray, on_select: Callable[[int], None], thumb_width: int = 160, max_candidates: int = 3
    ):
        self._small = shrink(image, thumb_width)
        self.thumb_width = int(thumb_width)
        self.images = [W.Image(format="jpeg", width=self.thumb_width) for _ in range(max_candidates)]
        bw = f"{max(self.thumb_width, 150)}px"
        self.buttons = [W.Button(layout=W.Layout(width=bw)) for _ in range(max_candidates)]
        for i, b in enumerate(self.buttons):
            b.on_click(lambda _b, i=i: on_select(i))
        self._slots = [W.VBox([im, b]) for im, b in zip(self.images, self.buttons)]
        self.shown = 0
        self.info: dict | None = None
        self._drawn: tuple | None = None  # (candidate array, colour) the thumbnails show
        super().__init__(self._slots, layout=W.Layout(display="none", grid_gap="6px"))

    def set_image(self, image: np.ndarray) -> None:
        """A new image / frame: thumbnails are drawn on a downscaled copy of it."""
        self._small = shrink(image, self.thumb_width)
        self._drawn = None

    def update(self, info: dict | None, color) -> None:
        """Show ``info`` (:meth:`ImageTarget.candidates`) in object colour ``color``; hide the
        strip when there is no multimask prediction (fewer than two candidates)."""
        self.info = info
        if info is None or not info["multimask"] or info["masks"].shape[0] < 2:
            self.shown = 0
            self.layout.display = "none"
            return
        masks, pred, true = info["masks"], info["pred"], info["true"]
        n = min(masks.shape[0], len(self._slots))
        redraw = self._drawn is None or self._drawn[0] is not masks or self._drawn[1] != tuple(color)
        self._drawn = (masks, tuple(color))
        for i in range(len(self._slots)):
            if i >= n:
                self._slots[i].layout.display = "none"
                continue
            self._slots[i].layout.display = None
            if redraw:  # candidates are immutable arrays: same array, same thumbnails
                self.images[i].value = thumbnail_jpeg(self._small, masks[i], color)
            text = f"#{i + 1} pred {_fmt(pred[i])}"
            if true is not None:
                text += f" · IoU {_fmt(true[i])}"
            b = self.buttons[i]
            b.description = text
            b.tooltip = f"Select candidate {i + 1} (model IoU estimate {_fmt(pred[i])}" + (
                f", IoU with ground truth {_fmt(true[i])})" if true is not None else ")"
            )
            b.button_style = "success" if i == info["selected"] else ""
        self.shown = n
        self.layout.display = None


__all__ = ["CandidatePanel"]
