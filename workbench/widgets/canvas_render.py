"""Drawing half of :class:`~workbench.widgets.prompt_canvas.PromptCanvas` (a mixin): the image
layer, the mask layer (one palette PNG of every object's mask, plus the segment-everything masks
in pick mode), the prompt layer (markers, boxes, the box being dragged), the candidate strip
and the object list, all read from the session."""
from __future__ import annotations

import numpy as np

from .canvas_draw import (DRAW_LOCK, compose_overlay, draw_prompts, encode_image, encode_index_png, hold_canvas,
                          put_encoded)


class CanvasRenderMixin:
    """Needs ``session``, ``target``, ``canvas`` layers, controls and ``_zoom`` (see PromptCanvas)."""

    def refresh(self, image: bool = False) -> None:
        """Redraw masks, prompts, candidates and the object list from the session (e.g. after
        a propagation); ``image=True`` also resends the image layer."""
        if image:
            data = encode_image(self.target.image(), self.image_format)
            with DRAW_LOCK, hold_canvas():
                self.image_layer.clear()
                put_encoded(self.image_layer, data)
            self.candidate_panel.set_image(self.target.image())
        self._redraw()

    def _redraw(self, masks: bool = True, prompts: bool = True, candidates: bool = True) -> None:
        mask_png = self._mask_png() if masks else None
        with DRAW_LOCK, hold_canvas():
            if mask_png is not None:
                self.mask_layer.clear()
                put_encoded(self.mask_layer, mask_png)
            if prompts:
                self._draw_prompt_layer()
        if candidates:
            self._sync_objects()
            info = self.target.candidates()
            color = self.session.objects[info["obj_id"]].color if info else (0, 0, 0)
            self.candidate_panel.update(info, color)

    def _mask_png(self) -> bytes:
        objects = self.session.objects
        current = self.target.masks()
        masks, colors = [], []
        if self.mode == "pick" and self.everything_panel is not None and self.everything_panel.records:
            masks, colors = self.everything_panel.overlay()
        for oid, obj in objects.items():
            if oid in current:
                masks.append(current[oid])
                colors.append(obj.color)
        index, palette = compose_overlay(masks, colors, self.target.shape, self.opacity_slider.value,
                                         self.style_buttons.value, outline_px=max(1, round(1.0 / self._zoom)))
        return encode_index_png(index, palette)

    def _draw_prompt_layer(self) -> None:
        objects = self.session.objects
        active = self.session.active_obj_id
        items = []
        for oid, p in self.target.prompts().items():
            items.append({"point_coords": p.point_coords, "point_labels": p.point_labels, "box": p.box,
                          "color": objects[oid].color if oid in objects else (255, 255, 255),
                          "active": oid == active})
        if self._pending:
            pend = np.array(self._pending, np.float64).reshape(-1, 3)
            items.append({"point_coords": pend[:, :2], "point_labels": pend[:, 2].astype(int), "box": None,
                          "color": (255, 255, 255), "active": True})
        radius = max(2.0, 5.0 / self._zoom)
        draw_prompts(self.prompt_layer, items, radius, max(1.0, 1.5 / self._zoom), drag_box=self._drag)

    def _sync_objects(self) -> None:
        sync_object_selector(self, self.object_dropdown)


def sync_object_selector(widget, selector) -> bool:
    """Show the session's objects (``"<obj_id>: <name>"``) in ``selector`` (a Dropdown or Select)
    and select the active one, with ``widget._syncing`` set so the change handlers ignore it.
    Returns True when the selected object changed."""
    session = widget.session
    options = [(f"{o.obj_id}: {o.name}", o.obj_id) for o in session.objects.values()]
    active = session.active_obj_id
    widget._syncing = True
    try:
        if list(selector.options) != options:
            selector.options = options
        if selector.value != active:
            selector.value = active
            return True
        return False
    finally:
        widget._syncing = False


__all__ = ["CanvasRenderMixin", "sync_object_selector"]
