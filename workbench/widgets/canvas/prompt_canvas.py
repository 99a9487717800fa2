"""``PromptCanvas``: click / box prompting on an image (or a video frame) in a notebook.

The widget drives a session (:class:`~workbench.sessions.ImageSession`, or one frame of a
:class:`~workbench.sessions.VideoSession`) and draws what it holds: the image, every object's
mask in the object's colour, the prompts (positive clicks green, negative red, boxes), the
candidate masks of a multimask prediction with their predicted and true IoU, and the masks of
"segment everything".

Canvas and coordinates: a 3-layer ``ipycanvas.MultiCanvas`` (image, masks, prompts) at the
image's native resolution, zoomed with its CSS size only, so mouse events arrive in image pixels
(:mod:`.coords`). Masks are sent as one palette PNG per update (:mod:`.draw`).

Keys (canvas focused): ``p`` positive click, ``n`` negative click, ``b`` box drag, ``k`` pick
(segment everything), ``z`` / Ctrl+Z undo, ``y`` / Ctrl+Y / Ctrl+Shift+Z redo, ``Escape`` clear
the active object's prompts.

Controls, browser events (mouse down / move / up / out, keys, buttons) and drawing (image
layer, mask layer, prompt layer, candidate strip, object list) are all methods of the one
class: they share the widget's state, so they are not split into mixins.

Layering: the widget talks to the session only (clicks, boxes, masks, undo, "segment
everything" through ``session.generate_masks``); it never calls the backend.

Model calls run on the session's worker (``sync=False``, default): the UI stays responsive and a
newer click supersedes a pending one; the canvas redraws when the call completes. ``sync=True``
calls the session directly (tests, papermill). Errors raised while handling a browser event
(a :class:`~workbench.errors.WorkbenchError` or anything else) are shown in :attr:`status`,
never raised; the public methods raise as usual.
"""

from __future__ import annotations

import html
import re
import time

import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas

from ...errors import ConfigError, PromptError
from ...sessions import ImageSession, VideoSession
from .candidates import CandidatePanel
from .coords import canvas_to_image, clamp_to_image
from .draw import DRAW_LOCK, STYLES, compose_overlay, draw_prompts, encode_image, encode_index_png, put_encoded
from .everything import EverythingPanel
from .targets import make_target

MODES = ("positive", "negative", "box", "pick")
KEYS = {"p": "positive", "n": "negative", "b": "box", "k": "pick"}
"""Single keys that switch the mode (plus z undo, y redo, Escape clear)."""
ZOOM_STEP = 1.25
_DONE = {
    "predicting": "predict",
    "embedding": "embed + predict",
    "undoing": "undo",
    "redoing": "redo",
    "clearing": "clear",
    "selecting": "select",
    "picking": "pick",
    "adding object": "add object",
    "segmenting everything": "segment everything",
}


def _now() -> float:
    return time.perf_counter()


class PromptCanvas(W.VBox):
    """Interactive prompting widget (an ``ipywidgets.VBox``; display it or embed it).

    Parameters
    ----------
    session_or_backend : ImageSession, VideoSession or ImageBackend
        A session to drive, or an image backend: then an :class:`~workbench.sessions.ImageSession`
        is built from ``image`` (and ``gt_mask``, ``gt_ignore``, ``multimask_output``, ``session_kw``).
    image : (H, W, 3) uint8 RGB array or path, optional
        Required with a backend; not allowed with a session.
    gt_mask : (H, W) bool, optional
        Ground truth: candidates show their true IoU (image sessions).
    display_width : int, optional
        On-screen width in CSS pixels of "fit" (default: the image width, at most 1000).
    gt_ignore : (H, W) bool, optional
        Pixels left out of the true IoU (e.g. GrabCut's 128 band).
    frame_idx : int, optional
        Video sessions: the frame shown first (:meth:`set_frame` changes it).
    sync : bool
        Call the session synchronously (tests, papermill) instead of through its worker.
    multimask_output : bool, optional
        With a backend: passed to the session (None = three candidates for a lone first click).
    opacity : float
        Mask fill opacity in [0, 1].
    style : {"fill", "outline", "both"}
    image_format : {"jpeg", "png"}
        How the image layer is sent (JPEG quality 92 is ~30x faster to encode; PNG is exact).
    generator : callable, optional
        ``generator(image, **params) -> records`` for segment everything; default the
        session's ``generate_masks`` (the backend's generator for image sessions, else the
        classical generator).
    everything : bool
        Show the segment-everything panel.
    thumb_width : int
        Candidate thumbnail width in pixels.
    **session_kw
        More :class:`~workbench.sessions.ImageSession` options when a backend is given.

    Attributes
    ----------
    session, target : the session driven and its frame adapter (:mod:`.targets`)
    canvas : ipycanvas.MultiCanvas; ``image_layer``, ``mask_layer``, ``prompt_layer`` its layers
    status : ipywidgets.HTML, the status line; ``state`` its state word, ``last_error`` the last
        error shown (None after a success)
    mode_buttons, style_buttons, opacity_slider, object_dropdown : the controls
    candidate_panel : :class:`~.candidates.CandidatePanel`
    everything_panel : :class:`~.everything.EverythingPanel` or None
    last_overhead_ms : float
        Widget time of the last prompt, ms: event handling before the session call plus the
        redraw after it (overlay composed, encoded and sent, prompts, candidates), model excluded.
    last_timings : dict of float (ms)
        ``handler``, ``session`` (call incl. model), ``model`` (backend time), ``redraw``,
        ``overhead`` of the last operation.

    Methods
    -------
    click(x, y, positive), set_box(x0, y0, x1, y1), select_candidate(i), undo(), redo(),
    clear_prompts(), add_object(name), run_everything(**params), pick(x, y), set_frame(i),
    refresh(image=False), on_change(callback); properties ``mode`` and ``zoom``. They raise
    WorkbenchErrors; in async mode the session operations return Futures.

    Raises
    ------
    ConfigError
        ``image`` missing with a backend or given with a session; ``gt_mask`` with a video
        session; bad style or format.
    """

    def __init__(
        self,
        session_or_backend,
        image=None,
        gt_mask=None,
        display_width: int | None = None,
        *,
        gt_ignore=None,
        frame_idx: int | None = None,
        sync: bool = False,
        multimask_output=None,
        opacity: float = 0.5,
        style: str = "fill",
        image_format: str = "jpeg",
        generator=None,
        everything: bool = True,
        thumb_width: int = 160,
        **session_kw,
    ):
        if style not in STYLES:
            raise ConfigError(f"style must be one of {', '.join(STYLES)}; got {style!r}.")
        if image_format not in ("jpeg", "png"):
            raise ConfigError(f"image_format must be 'jpeg' or 'png'; got {image_format!r}.")
        obj = session_or_backend
        session: ImageSession | VideoSession
        if isinstance(obj, (ImageSession, VideoSession)):
            if image is not None:
                raise ConfigError("Pass image only with a backend: this session already has its image.")
            session = obj
            if gt_mask is not None and not isinstance(session, ImageSession):
                raise ConfigError("gt_mask applies to image sessions only (candidates' true IoU).")
            if gt_mask is not None and isinstance(session, ImageSession):
                session.gt_mask = session._check_gt(gt_mask, "gt_mask")
                session.gt_ignore = session._check_gt(gt_ignore, "gt_ignore")
        else:
            if image is None:
                raise ConfigError(
                    "PromptCanvas(backend, image=...) needs the image to segment (an (H, W, 3) uint8 "
                    "RGB array or a path), or pass a session instead of a backend."
                )
            session = ImageSession(
                obj, image, gt_mask, gt_ignore=gt_ignore, multimask_output=multimask_output, **session_kw
            )
        self.session = session
        self.target = make_target(session, frame_idx)
        self.sync = bool(sync)
        self.image_format = image_format
        self.height_px, self.width_px = self.target.shape
        self.last_overhead_ms = 0.0
        self.last_timings: dict[str, float] = {}
        self.last_error: BaseException | None = None
        self.state = "ready"
        self._drag: list[int] | None = None
        self._pending: list[tuple[int, int, int]] = []
        self._syncing = False
        self._change_callbacks: list = []
        h, w = self.height_px, self.width_px
        self.fit_zoom = (min(w, 1000) if display_width is None else float(display_width)) / w
        self._zoom = self.fit_zoom
        self.canvas = MultiCanvas(3, width=w, height=h)
        self.image_layer, self.mask_layer, self.prompt_layer = self.canvas[0], self.canvas[1], self.canvas[2]
        self._build_controls(opacity, style)
        self.candidate_panel = CandidatePanel(self.target.image(), self._on_candidate, thumb_width)
        self.everything_panel = self._build_everything(generator) if everything else None
        self.canvas.on_mouse_down(self._handler(self._on_mouse_down))
        self.canvas.on_mouse_move(self._handler(self._on_mouse_move))
        self.canvas.on_mouse_up(self._handler(self._on_mouse_up))
        self.canvas.on_mouse_out(self._handler(self._on_mouse_out))
        self.canvas.on_key_down(self._handler(self._on_key))
        self.canvas.on_client_ready(self._handler(lambda: self.refresh(image=True)))
        rows = [self._toolbar, self._viewbar, self.canvas, self.status, self.candidate_panel]
        if self.concept_bar is not None:
            rows.insert(2, self.concept_bar)
        super().__init__(rows + ([self.everything_panel] if self.everything_panel is not None else []))
        self.add_class("wb-prompt-canvas")  # CSS classes for browser tests
        self.canvas.add_class("wb-canvas")
        self.status.add_class("wb-status")
        self._apply_zoom()
        self.refresh(image=True)
        embed = session.embed_latency_ms if isinstance(session, ImageSession) else 0.0
        on = session.backend_label
        self._set_status("ready", f"{on} · embedding took {embed:.0f} ms" if embed else on)

    # -- construction ----------------------------------------------------------------------------
    def _build_controls(self, opacity: float, style: str) -> None:
        self.mode_buttons = W.ToggleButtons(
            options=[
                ("+ click (p)", "positive"),
                ("− click (n)", "negative"),
                ("box (b)", "box"),
                ("pick (k)", "pick"),
            ],
            value="positive",
            style={"button_width": "auto"},
        )
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
        # a text box for concept prompts only when the backend takes them (SAM 3)
        self.concept_text: W.Text | None = None
        self.concept_bar: W.HBox | None = None
        if self.session.takes_text:
            self.concept_text = W.Text(
                placeholder="concept, e.g. dog", description="text", layout=W.Layout(width="260px")
            )
            self.concept_threshold = W.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="score ≥")
            self.concept_button = W.Button(description="find all", icon="search", layout=W.Layout(width="auto"))
            self.concept_button.on_click(h(lambda _b: self.find_concept()))
            self.concept_bar = W.HBox([self.concept_text, self.concept_threshold, self.concept_button])
            self.concept_bar.add_class("wb-concept-bar")
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
        self._toolbar = W.HBox(
            [
                self.mode_buttons,
                self.object_dropdown,
                self.add_object_button,
                self.undo_button,
                self.redo_button,
                self.clear_button,
            ],
            layout=W.Layout(flex_flow="row wrap"),
        )
        self._viewbar = W.HBox(
            [
                self.opacity_slider,
                self.style_buttons,
                self.zoom_out_button,
                self.zoom_in_button,
                self.fit_button,
                self.one_button,
                self.zoom_label,
            ],
            layout=W.Layout(flex_flow="row wrap"),
        )

    def _build_everything(self, generator) -> EverythingPanel:
        self.generator = generator  # None: the session's generate_masks
        classical = self.session.uses_classical_masks(generator)
        defaults = self.session.mask_generator_defaults(generator)
        disabled = ("crop_n_layers", "use_m2m") if classical else ()
        return EverythingPanel(self._handler(self.run_everything), defaults, disabled)

    # -- browser events (every handler is wrapped by _handler) -----------------------------------
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

    # -- drawing (everything is read from the session) --------------------------------------------
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
        masks: list[np.ndarray] = []
        colors: list = []
        if self.mode == "pick" and self.everything_panel is not None and self.everything_panel.records:
            masks, colors = self.everything_panel.overlay()
        # highest id first: where objects overlap the lower id is drawn on top, as the exports
        # merge them (workbench.io.label_maps.merge_object_masks)
        for oid, obj in sorted(objects.items(), reverse=True):
            if oid in current:
                masks.append(current[oid])
                colors.append(obj.color)
        index, palette = compose_overlay(
            masks,
            colors,
            self.target.shape,
            self.opacity_slider.value,
            self.style_buttons.value,
            outline_px=max(1, round(1.0 / self._zoom)),
        )
        return encode_index_png(index, palette)

    def _draw_prompt_layer(self) -> None:
        objects = self.session.objects
        active = self.session.active_obj_id
        items = []
        for oid, p in self.target.prompts().items():
            items.append(
                {
                    "point_coords": p.point_coords,
                    "point_labels": p.point_labels,
                    "box": p.box,
                    "color": objects[oid].color if oid in objects else (255, 255, 255),
                    "active": oid == active,
                }
            )
        if self._pending:
            pend = np.array(self._pending, np.float64).reshape(-1, 3)
            items.append(
                {
                    "point_coords": pend[:, :2],
                    "point_labels": pend[:, 2].astype(int),
                    "box": None,
                    "color": (255, 255, 255),
                    "active": True,
                }
            )
        radius = max(2.0, 5.0 / self._zoom)
        draw_prompts(self.prompt_layer, items, radius, max(1.0, 1.5 / self._zoom), drag_box=self._drag)

    def _sync_objects(self) -> None:
        sync_object_selector(self, self.object_dropdown)

    # -- error handling: only around event handlers -----------------------------------------------
    def _handler(self, fn):
        """Wrap an event handler: any exception goes to the status line, none propagates."""

        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # shown to the user instead of a traceback
                self._show_error(exc)
                return None

        return run

    def _show_error(self, exc: BaseException) -> None:
        self.last_error = exc
        self.state = "error"
        msg = html.escape(f"{type(exc).__name__}: {exc}")
        self.status.value = f"<span style='color:#c62828'><b>error</b> · {msg}</span>"

    def _set_status(self, state: str, detail: str = "") -> None:
        self.state = state
        word = {"ready": "ready"}.get(state, state + "…")
        self.status.value = f"<b>{html.escape(word)}</b>" + (f" · {html.escape(detail)}" if detail else "")

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))

    # -- running session operations ------------------------------------------------------------------
    def _call(self, label: str, fn, *args, key=None, t0: float | None = None, then=None, click=None):
        """Run a session operation synchronously or on the worker, then redraw.

        ``click=(x, y, positive)`` uses the session's superseding click queue instead of ``fn``.
        ``then(result)`` runs after success, before the redraw."""
        t0 = _now() if t0 is None else t0
        if label == "predicting" and self.target.needs_embedding():
            label = "embedding"
        self._set_status(label)
        if self.sync:
            t1 = _now()
            try:
                result = self.target.click(*click) if click is not None else fn(*args)
            finally:
                self._pending.clear()
            t2 = _now()
            if then is not None:
                then(result)
            self._finish(label, t0, t1, t2)
            return result
        t1 = _now()
        done = self._handler(lambda fut: self._on_future(fut, label, t0, t1, then))
        if click is not None:
            return self.target.click_async(*click, on_done=done)
        return self.session.submit(fn, *args, key=key, on_done=done)

    def _on_future(self, fut, label, t0, t1, then) -> None:
        if fut.cancelled():
            return  # superseded: the newer job redraws
        t2 = _now()
        exc = fut.exception()
        self._prune_pending()
        if exc is not None:
            self._redraw()
            raise exc
        if then is not None:
            then(fut.result())
        self._finish(label, t0, t1, t2)

    def _finish(self, label, t0, t1, t2) -> None:
        r0 = _now()
        self._redraw()
        t3 = _now()
        model = self.target.latency_ms() if label in ("predicting", "embedding") else 0.0
        handler = (t1 - t0) * 1000.0
        self.last_timings = {
            "handler": handler,
            "session": (t2 - t1) * 1000.0,
            "model": model,
            "redraw": (t3 - r0) * 1000.0,
            "overhead": handler + (t3 - r0) * 1000.0,
        }
        self.last_overhead_ms = self.last_timings["overhead"]
        self.last_error = None
        what = _DONE.get(label, label)
        detail = f"{what} {model if model else self.last_timings['session']:.0f} ms"
        self._set_status("ready", f"{detail} · widget {self.last_overhead_ms:.1f} ms")
        for fn in list(self._change_callbacks):
            fn(label)

    def on_change(self, callback, remove: bool = False) -> None:
        """Call ``callback(label)`` after every operation that completed and was redrawn
        (``label``: "predicting", "undoing", "picking", ...; on the worker thread in async mode),
        e.g. to update a video timeline. ``remove=True`` unregisters it."""
        if remove:
            if callback in self._change_callbacks:
                self._change_callbacks.remove(callback)
        else:
            self._change_callbacks.append(callback)

    def _prune_pending(self) -> None:
        if not self._pending:
            return
        pts = set()
        for p in self.target.prompts().values():
            pts |= {(int(x), int(y), int(lab)) for (x, y), lab in zip(p.point_coords, p.point_labels)}
        self._pending = [c for c in self._pending if c not in pts]

    # -- public operations (raise on error) -----------------------------------------------------------
    def click(self, x: int, y: int, positive: bool = True, t0: float | None = None):
        """Prompt the active object with a click at image pixel column ``x``, row ``y`` (canvas
        event coordinates are accepted too: they are floored to the pixel under them).

        Returns the session's result (sync) or a Future (async).

        Raises
        ------
        PromptError
            Outside the image; no object.
        """
        t0 = _now() if t0 is None else t0
        x, y = canvas_to_image(x, y, self.width_px, self.height_px)
        self._pending.append((x, y, 1 if positive else 0))
        if not self.sync:
            self._redraw(masks=False, candidates=False)  # show the click at once
        try:
            return self._call("predicting", None, t0=t0, click=(x, y, bool(positive)))
        except Exception:
            if not self.sync:  # refused before it was queued (e.g. no object): drop its marker
                self._pending.remove((x, y, 1 if positive else 0))
                self._redraw(masks=False, candidates=False)
            raise

    def set_box(self, x0: int, y0: int, x1: int, y1: int, t0: float | None = None):
        """Prompt the active object with an XYXY pixel box (replaces its clicks).

        Raises
        ------
        PromptError
            Not ``x0 < x1`` and ``y0 < y1`` inside the image.
        """
        if not (x0 < x1 and y0 < y1):
            raise PromptError(f"Drag to draw a box: it needs x0 < x1 and y0 < y1 (pixels); got {[x0, y0, x1, y1]}.")
        box = (int(x0), int(y0), int(x1), int(y1))
        return self._call("predicting", self.target.box, box, key=self.target.box_key(), t0=t0)

    def select_candidate(self, index: int):
        """Make candidate ``index`` the active object's mask."""
        return self._call("selecting", self.target.select_candidate, int(index))

    def undo(self):
        """Undo the session's last action (exact; raises PromptError when there is none)."""
        return self._call("undoing", self.session.undo)

    def redo(self):
        """Redo the last undone action (raises PromptError when there is none)."""
        return self._call("redoing", self.session.redo)

    def clear_prompts(self):
        """Clear the active object's prompts (and its mask) on the shown frame."""
        self._pending.clear()
        self._drag = None
        return self._call("clearing", self.target.clear_active)

    def add_object(self, name: str | None = None):
        """Add an object and make it active."""
        return self._call("adding object", self.session.add_object, name)

    def run_everything(self, **params):
        """Run the segment-everything generator on the shown image with the panel's parameters
        (overridden by ``params``); switches to pick mode when done."""
        panel = self.everything_panel
        if panel is None:
            raise ConfigError("This PromptCanvas was built with everything=False.")
        p = {**panel.params(), **params}
        shape = self.target.shape
        if self.generator is None:
            run = lambda: self.target.generate_masks(**p)  # noqa: E731
        else:
            image = np.array(self.target.image())  # writable copy for torch
            run = lambda: self.generator(image, **p)  # noqa: E731

        def store(records):
            panel.set_records(records, shape)
            self.mode_buttons.value = "pick"

        return self._call("segmenting everything", run, then=store)

    def find_concept(self, text: str | None = None, threshold: float | None = None):
        """Text concept prompt (SAM 3 backends): find every instance of ``text`` (default: the
        text box) scoring at least ``threshold`` (default: the slider) on the shown image or
        frame. With the segment-everything panel the instances fill it and the canvas switches
        to pick mode (clicking an instance makes it an object); without it (the video
        annotator) every instance becomes a new object with its mask on the shown frame.

        Raises
        ------
        ConfigError
            The backend takes no text prompts (no text box is shown then).
        PromptError
            Empty text.
        """
        if self.concept_text is None:
            raise ConfigError(f"{self.session.backend_label} takes no text prompts; use clicks or a box.")
        phrase = self.concept_text.value if text is None else text
        score = self.concept_threshold.value if threshold is None else threshold
        image = np.array(self.target.image())
        shape = self.target.shape
        panel = self.everything_panel
        if panel is not None:

            def store(records):
                panel.set_records(records, shape)
                self.mode_buttons.value = "pick"

            return self._call(f"finding {phrase!r}", self.session.find_concept, image, phrase, score, then=store)

        def add_all() -> list[int]:
            records = self.session.find_concept(image, phrase, score)
            return [self.target.set_mask(r["segmentation"], f"{phrase} {i + 1}") for i, r in enumerate(records)]

        return self._call(f"finding {phrase!r}", add_all)

    def pick(self, x: int, y: int):
        """Make the everything-mask under image pixel ``(x, y)`` a new object (or the active
        object's mask when the panel's "pick into the active object" is ticked)."""
        if self.everything_panel is None:
            raise ConfigError("This PromptCanvas was built with everything=False.")
        panel = self.everything_panel
        i = panel.record_at(x, y)
        rec = panel.records[i]
        name = f"mask {i}"
        return self._call(
            "picking",
            self.target.set_mask,
            rec["segmentation"],
            name,
            panel.pick_into_active.value,
            then=lambda _oid: panel.mark_picked(i),
        )

    def set_frame(self, frame_idx: int) -> None:
        """Video sessions: show frame ``frame_idx`` (image, masks, prompts)."""
        session = self.session
        if self.target.kind != "video" or not isinstance(session, VideoSession):
            raise PromptError("Only video sessions have frames to switch; this canvas shows one image.")
        self.target.frame_idx = session._check_frame(frame_idx)
        self._drag, self._pending = None, []
        if self.everything_panel is not None:
            self.everything_panel.clear()
        self.refresh(image=True)

    @property
    def mode(self) -> str:
        """``"positive"``, ``"negative"``, ``"box"`` or ``"pick"`` (settable)."""
        return self.mode_buttons.value

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}; got {value!r}.")
        self.mode_buttons.value = value

    @property
    def zoom(self) -> float:
        """CSS pixels per image pixel (settable; the canvas bitmap stays at native size)."""
        return self._zoom

    @zoom.setter
    def zoom(self, value: float) -> None:
        z = float(value)
        if not np.isfinite(z) or z <= 0:
            raise ConfigError(f"zoom must be a positive number; got {value!r}.")
        self._zoom = min(max(z, 0.05), 16.0)
        self._apply_zoom()
        self._redraw(masks=self.style_buttons.value != "fill", candidates=False)

    def _apply_zoom(self) -> None:
        self.canvas.layout.width = f"{self.width_px * self._zoom:.0f}px"
        self.canvas.layout.height = f"{self.height_px * self._zoom:.0f}px"
        self.zoom_label.value = f"{self._zoom * 100:.0f} %"


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


__all__ = ["KEYS", "MODES", "ZOOM_STEP", "PromptCanvas", "sync_object_selector"]
