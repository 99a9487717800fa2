"""Event half of :class:`~workbench.widgets.prompt_canvas.PromptCanvas` (a mixin): the controls
and what the browser's messages do (mouse down / move / up / out on the canvas, keys, buttons,
toggles). Every handler is wrapped by ``PromptCanvas._handler``, which shows errors in the
status line instead of raising."""
from __future__ import annotations

import time

import ipywidgets as W
from ipycanvas import hold_canvas

from .canvas_draw import DRAW_LOCK, STYLES
from .coords import canvas_to_image, clamp_to_image

KEYS = {"p": "positive", "n": "negative", "b": "box", "k": "pick"}
"""Single keys that switch the mode (plus z undo, y redo, Escape clear)."""
ZOOM_STEP = 1.25


def _now() -> float:
    return time.perf_counter()


class CanvasEventsMixin:
    """Needs the PromptCanvas operations (click, set_box, pick, undo, redo, clear_prompts, ...)."""

    def _build_controls(self, opacity: float, style: str) -> None:
        self.mode_buttons = W.ToggleButtons(options=[("+ click (p)", "positive"), ("− click (n)", "negative"),
                                                     ("box (b)", "box"), ("pick (k)", "pick")], value="positive",
                                            style={"button_width": "auto"})
        self.object_dropdown = W.Dropdown(description="object", layout=W.Layout(width="220px"))
        self.add_object_button = W.Button(description="new object", icon="plus", layout=W.Layout(width="auto"))
        self.undo_button = W.Button(description="undo (z)", icon="undo", layout=W.Layout(width="auto"))
        self.redo_button = W.Button(description="redo (y)", icon="repeat", layout=W.Layout(width="auto"))
        self.clear_button = W.Button(description="clear (Esc)", icon="eraser", layout=W.Layout(width="auto"))
        self.opacity_slider = W.FloatSlider(float(opacity), min=0.0, max=1.0, step=0.05, description="opacity")
        self.style_buttons = W.ToggleButtons(options=list(STYLES), value=style, style={"button_width": "auto"})
        self.zoom_out_button = W.Button(description="−", tooltip="zoom out", layout=W.Layout(width="36px"))
        self.zoom_in_button = W.Button(description="+", tooltip="zoom in", layout=W.Layout(width="36px"))
        self.fit_button = W.Button(description="fit", layout=W.Layout(width="auto"))
        self.one_button = W.Button(description="1:1", layout=W.Layout(width="auto"))
        self.zoom_label = W.HTML()
        self.status = W.HTML()
        h = self._handler
        self.mode_buttons.observe(h(self._on_mode), "value")
        self.object_dropdown.observe(h(self._on_object), "value")
        self.add_object_button.on_click(h(lambda _b: self.add_object()))
        self.undo_button.on_click(h(lambda _b: self.undo()))
        self.redo_button.on_click(h(lambda _b: self.redo()))
        self.clear_button.on_click(h(lambda _b: self.clear_prompts()))
        self.opacity_slider.observe(h(lambda _c: self._redraw(prompts=False, candidates=False)), "value")
        self.style_buttons.observe(h(lambda _c: self._redraw(prompts=False, candidates=False)), "value")
        self.zoom_out_button.on_click(h(lambda _b: setattr(self, "zoom", self.zoom / ZOOM_STEP)))
        self.zoom_in_button.on_click(h(lambda _b: setattr(self, "zoom", self.zoom * ZOOM_STEP)))
        self.fit_button.on_click(h(lambda _b: setattr(self, "zoom", self.fit_zoom)))
        self.one_button.on_click(h(lambda _b: setattr(self, "zoom", 1.0)))
        self._toolbar = W.HBox([self.mode_buttons, self.object_dropdown, self.add_object_button, self.undo_button,
                                self.redo_button, self.clear_button], layout=W.Layout(flex_flow="row wrap"))
        self._viewbar = W.HBox([self.opacity_slider, self.style_buttons, self.zoom_out_button, self.zoom_in_button,
                                self.fit_button, self.one_button, self.zoom_label],
                               layout=W.Layout(flex_flow="row wrap"))

    def _on_mouse_down(self, x, y) -> None:
        t0 = _now()
        mode = self.mode
        if mode in ("positive", "negative"):
            self.click(x, y, mode == "positive", t0=t0)
        elif mode == "box":
            col, row = canvas_to_image(x, y, self.width_px, self.height_px)
            self._drag = [col, row, col, row]
            with DRAW_LOCK, hold_canvas():
                self._draw_prompt_layer()
        elif mode == "pick":
            col, row = canvas_to_image(x, y, self.width_px, self.height_px)
            self.pick(col, row)

    def _on_mouse_move(self, x, y) -> None:
        if self._drag is None:
            return
        col, row = clamp_to_image(x, y, self.width_px, self.height_px)
        if (col, row) != tuple(self._drag[2:]):
            self._drag[2:] = [col, row]
            with DRAW_LOCK, hold_canvas():
                self._draw_prompt_layer()

    def _on_mouse_up(self, x, y) -> None:
        if self._drag is None:
            return
        t0 = _now()
        col, row = clamp_to_image(x, y, self.width_px, self.height_px)
        c0, r0 = self._drag[:2]
        self._drag = None
        try:
            self.set_box(min(c0, col), min(r0, row), max(c0, col), max(r0, row), t0=t0)
        except Exception:
            with DRAW_LOCK, hold_canvas():
                self._draw_prompt_layer()  # remove the rubber band
            raise

    def _on_mouse_out(self, x, y) -> None:
        self._on_mouse_up(x, y)  # a drag leaving the canvas ends at the border

    def _on_key(self, key, shift=False, ctrl=False, meta=False) -> None:
        k = key.lower() if len(key) == 1 else key
        if (ctrl or meta) and k == "z":
            self.redo() if shift else self.undo()
        elif (ctrl or meta) and k == "y":
            self.redo()
        elif ctrl or meta:
            return
        elif k in KEYS:
            self.mode = KEYS[k]
        elif k == "z":
            self.undo()
        elif k == "y":
            self.redo()
        elif k == "Escape":
            self.clear_prompts()

    def _on_mode(self, change) -> None:
        self._drag = None
        self._redraw(masks="pick" in (change["old"], change["new"]), candidates=False)

    def _on_object(self, change) -> None:
        if self._syncing or change["new"] is None:
            return
        self.session.set_active(int(change["new"]))
        self._redraw(masks=False)

    def _on_candidate(self, index: int) -> None:
        self._handler(self.select_candidate)(index)


__all__ = ["CanvasEventsMixin", "KEYS", "ZOOM_STEP"]
