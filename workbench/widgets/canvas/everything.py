""" "Segment everything" controls of the prompt canvas: the automatic mask generator's parameters,
a run button, the masks found (with their scores) and the lookup used by "pick" mode.

The generator is any callable ``generate(image, **params) -> list of records`` in the format of
SAM 2's ``SAM2AutomaticMaskGenerator`` (``segmentation`` (H, W) bool, ``area``, ``bbox`` XYWH,
``predicted_iou``, ``stability_score``): ``SAM2ImageBackend.generate_masks`` or the weight-free
:func:`workbench.backends.classical.everything.classical_generate_masks`.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import numpy as np

from ...errors import PromptError
from .draw import instance_colors

SAM2_AMG_UI_DEFAULTS = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.8,
    "stability_score_thresh": 0.95,
    "crop_n_layers": 0,
    "min_mask_region_area": 0,
    "use_m2m": False,
}
"""Defaults of the exposed parameters for SAM 2 (those of ``SAM2AutomaticMaskGenerator``)."""

EXPOSED = tuple(SAM2_AMG_UI_DEFAULTS)
"""The generator parameters the panel exposes."""


class EverythingPanel(W.Accordion):
    """Accordion "Segment everything" with the generator parameters and the masks found.

    Parameters
    ----------
    on_run : callable
        Called with no argument when the run button is pressed.
    defaults : dict
        Initial values of :data:`EXPOSED` parameters.
    disabled : iterable of str
        Parameters the generator ignores (greyed out), e.g. ``crop_n_layers`` for the
        classical generator.

    Attributes
    ----------
    records : list of dict
        The masks of the last run, largest first (the generator's order).
    picked : set of int
        Indices of records already made into objects (no longer drawn in pick mode).
    run_button, pick_into_active : ipywidgets.Button, ipywidgets.Checkbox
    summary : ipywidgets.HTML
        Count and a table of the highest-scoring masks.
    controls : dict name -> widget
    """

    def __init__(self, on_run: Callable[[], None], defaults: dict, disabled=(), title: str = "Segment everything"):
        d = {**SAM2_AMG_UI_DEFAULTS, **{k: v for k, v in defaults.items() if k in EXPOSED}}
        style = {"description_width": "160px"}
        self.controls = {
            "points_per_side": W.IntSlider(
                d["points_per_side"], min=4, max=64, step=2, description="points_per_side", style=style
            ),
            "pred_iou_thresh": W.FloatSlider(
                d["pred_iou_thresh"], min=0, max=1, step=0.01, description="pred_iou_thresh", style=style
            ),
            "stability_score_thresh": W.FloatSlider(
                d["stability_score_thresh"], min=0, max=1, step=0.01, description="stability_score_thresh", style=style
            ),
            "crop_n_layers": W.IntSlider(d["crop_n_layers"], min=0, max=3, description="crop_n_layers", style=style),
            "min_mask_region_area": W.BoundedIntText(
                d["min_mask_region_area"], min=0, max=10**7, description="min_mask_region_area", style=style
            ),
            "use_m2m": W.Checkbox(bool(d["use_m2m"]), description="use_m2m", style=style),
        }
        for name in disabled:
            if name in self.controls:
                self.controls[name].disabled = True
                self.controls[name].tooltip = "not used by this generator"
        self.run_button = W.Button(description="Segment everything", icon="th", button_style="info")
        self.run_button.on_click(lambda _b: on_run())
        self.pick_into_active = W.Checkbox(
            False, description="pick into the active object (else a new object)", style={"description_width": "initial"}
        )
        self.summary = W.HTML("Run to find every mask; then use <b>pick</b> mode (key k) and click a mask.")
        self.records: list[dict] = []
        self.picked: set[int] = set()
        self._index: np.ndarray | None = None
        self._colors = instance_colors(0)
        body = W.VBox([*self.controls.values(), W.HBox([self.run_button, self.pick_into_active]), self.summary])
        super().__init__(children=[body], selected_index=None)
        self.set_title(0, title)

    def params(self) -> dict:
        """The exposed parameters as set in the controls (disabled ones left out)."""
        return {k: w.value for k, w in self.controls.items() if not w.disabled}

    def set_records(self, records: list[dict], shape: tuple[int, int]) -> None:
        """Store the generator's records and build the pick lookup (topmost = smallest mask)."""
        self.records = list(records)
        self.picked = set()
        index = np.full(shape, -1, np.int32)
        for i, rec in enumerate(self.records):
            seg = np.asarray(rec["segmentation"], bool)
            if seg.shape != tuple(shape):
                raise PromptError(f"Generator mask {i} is {seg.shape}; the image is {tuple(shape)}.")
            index[seg] = i
        # drawing order is the list order (largest first), so later = smaller = on top: same as index
        self._index = index
        self._colors = instance_colors(len(self.records))
        self._write_summary()

    def clear(self) -> None:
        self.records, self.picked, self._index = [], set(), None
        self.summary.value = "No masks (run again for this image)."

    def record_at(self, col: int, row: int) -> int:
        """Index of the (smallest, topmost) unpicked mask covering image pixel ``(col, row)``.

        Raises
        ------
        PromptError
            No run yet, or no mask under the pixel.
        """
        if self._index is None or not self.records:
            raise PromptError("No masks to pick: open 'Segment everything' and run it first.")
        i = int(self._index[row, col])
        if i < 0 or i in self.picked:
            cands = [j for j, r in enumerate(self.records) if j not in self.picked and r["segmentation"][row, col]]
            if not cands:
                raise PromptError(f"No mask at (x={col}, y={row}): click inside a coloured mask.")
            i = min(cands, key=lambda j: self.records[j]["area"])
        return i

    def overlay(self) -> tuple[list[np.ndarray], list]:
        """Masks and colours of the unpicked records, in drawing order (largest first)."""
        idx = [i for i in range(len(self.records)) if i not in self.picked]
        return [self.records[i]["segmentation"] for i in idx], [tuple(self._colors[i]) for i in idx]

    def mark_picked(self, i: int) -> None:
        self.picked.add(int(i))
        self._write_summary()

    def _write_summary(self) -> None:
        recs = self.records
        left = len(recs) - len(self.picked)
        head = f"<b>{len(recs)}</b> masks ({left} not picked). Highest predicted IoU:"
        top = sorted(range(len(recs)), key=lambda i: -float(recs[i].get("predicted_iou", 0.0)))[:8]

        def row(i):
            r = recs[i]
            pred, stab = float(r.get("predicted_iou", np.nan)), float(r.get("stability_score", np.nan))
            return (
                f"<tr><td>{i}</td><td>{int(r['area'])}</td><td>{pred:.3f}</td><td>{stab:.3f}</td>"
                f"<td>{'✓' if i in self.picked else ''}</td></tr>"
            )

        rows = "".join(row(i) for i in top)
        table = (
            f"<table><tr><th>#</th><th>area</th><th>pred IoU</th><th>stability</th><th>picked</th></tr>{rows}</table>"
        )
        self.summary.value = head + table


__all__ = ["EXPOSED", "SAM2_AMG_UI_DEFAULTS", "EverythingPanel"]
