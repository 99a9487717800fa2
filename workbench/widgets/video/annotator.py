"""``VideoAnnotator``: prompt, track, refine and export objects through a video in a notebook.

The workflow of SAM 2's video notebook (``notebooks/video_predictor_example.ipynb``) as one
widget on a :class:`~workbench.sessions.VideoSession`:

* a frame scrubber (slider, play / pause, step buttons, keys ``,`` / ``.`` and arrows on the
  focused canvas) and the shown frame on an embedded
  :class:`~workbench.widgets.canvas.prompt_canvas.PromptCanvas` (clicks, boxes, undo / redo);
* an object list (add, rename, remove, select: prompts go to the selected object, on any frame);
* propagation forward / backward / both from the earliest prompted frame (or the shown frame)
  with a progress bar and a cancel button; refinement clicks on any frame, then propagate again;
* "add objects from detector": a :class:`~workbench.types.Detector` (e.g.
  ``workbench.backends.detectors.make_detector(...)``) finds boxes on the shown frame and each
  becomes a new object prompted with its box (:meth:`VideoSession.add_objects_from_detector
  <workbench.sessions.VideoSession.add_objects_from_detector>`); propagate as usual;
* a per-object timeline (:class:`~workbench.widgets.video.timeline.TimelineStrip`: presence, object
  score, and J per frame when ground truth is given); clicking it moves the scrubber;
* exports through :mod:`workbench.io.export`: DAVIS palette PNGs, COCO RLE JSON, overlay MP4;
* the tracking policy (SAM 2's own, SAMURAI, SAM2Long) and, for teaching, a *memory* view
  (:class:`~workbench.widgets.video.memory_panel.MemoryPanel`, off until its toggle is pressed):
  for the shown frame and the selected object, the conditioning frames, non-conditioning memories
  and object pointers the model attended, as marks under the timeline and as lists, with the
  policy's scores.

Frames come from a JPEG/PNG folder or a video file and are decoded lazily
(:class:`~workbench.io.frames.FrameSource`). Model calls, propagation and exports run on the
session's worker thread (the notebook stays responsive; cancel stops a propagation after its
current frame) unless ``sync=True`` (tests, papermill). Errors raised while handling a browser
event are shown in the status line (``wb-status``), never raised; the public methods raise.

The widget talks to its :class:`~workbench.sessions.VideoSession` only (prompts, objects,
propagation, exports of what the session holds); it never calls the backend.

CSS classes (for browser tests): ``wb-video-annotator`` (whole widget), ``wb-info``,
``wb-frame-slider``, ``wb-play``, ``wb-prev-frame``, ``wb-next-frame``, ``wb-frame-label`` (its
``span.wb-frame-idx`` holds the shown frame index, also as ``data-frame``), ``wb-object-list``,
``wb-object-name``, ``wb-object-add``, ``wb-object-rename``, ``wb-object-remove``,
``wb-propagate-forward``, ``wb-propagate-backward``, ``wb-propagate-both``,
``wb-propagate-from-current``, ``wb-add-from-detector``, ``wb-progress``, ``wb-cancel``, ``wb-output-dir``,
``wb-export-davis``, ``wb-export-coco``, ``wb-export-mp4``, ``wb-status`` (the status line),
``wb-canvas`` (the frame's ``MultiCanvas``), ``wb-prompt-canvas`` (the canvas with its
toolbars), ``wb-timeline`` (the timeline strip canvas), ``wb-timeline-readout``, ``wb-help``,
``wb-policy``, ``wb-memory-toggle``, ``wb-memory-strip``, ``wb-memory`` (see :mod:`.memory_panel`).
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import ipywidgets as W

from ...backends import VideoBackend
from ...config import reports_dir
from ...errors import ConfigError, PromptError, UnknownNameError
from ...io.export import export_coco_rle, export_davis_pngs, export_overlay_mp4, session_colors, session_object_names
from ...sessions import CancelToken, ImageSession, VideoSession
from ...types import Detector, MemoryTrace
from ..canvas.prompt_canvas import PromptCanvas, sync_object_selector
from .inputs import limit_frames, load_gt_ids, video_name
from .memory_panel import MemoryPanel
from .timeline import TimelineStrip

FRAME_KEYS = {",": -1, ".": 1, "ArrowLeft": -1, "ArrowRight": 1, "<": -10, ">": 10}
"""Keys on the focused canvas that move the scrubber (Shift + arrow: 10 frames; Home / End)."""
DIRECTION_LABELS = {"backward": "◀ propagate backward", "both": "◀ both ▶", "forward": "propagate forward ▶"}
EXPORTS = ("davis", "coco", "mp4")
DETECT_LABEL = "adding objects from detector"
"""Status label (and change-callback label) of "add objects from detector"."""
HELP = (
    "<span style='font-size:12px;color:#555'>Click on the frame to prompt the selected object "
    "(p / n: positive / negative clicks, b: box, z / y: undo / redo, Esc: clear); "
    "<b>,</b> / <b>.</b> or ← / →: previous / next frame, &lt; / &gt; or Shift+← / →: 10 frames, "
    "Home / End: first / last frame (click the frame first to give it the keyboard).</span>"
)


def _button(description: str, css: str, tooltip: str = "", icon: str = "", width: str = "auto") -> W.Button:
    b = W.Button(description=description, tooltip=tooltip or description, icon=icon, layout=W.Layout(width=width))
    b.add_class(css)
    return b


class VideoAnnotator(W.VBox):
    """Interactive video object annotation (an ``ipywidgets.VBox``; display it).

    Parameters
    ----------
    session_or_backend : VideoSession or VideoBackend
        A session to drive, or a video backend (``workbench.backends.make_video_backend``):
        then a :class:`~workbench.sessions.VideoSession` is built on ``video``.
    video : str, Path, FrameSource or sequence of (H, W, 3) uint8 RGB frames, optional
        A frame folder or a video file (mp4 …); required with a backend, refused with a session.
    gt : folder of palette PNGs or (T, H, W) integer ids, optional
        Ground truth (0 background, 255 void) for the timeline's J; object ``k`` is compared
        with ``gt == k`` (DAVIS numbering).
    sync : bool
        Run model calls, propagation and exports on the calling thread (tests, papermill).
    max_frames : int, optional
        With a backend: use only the first ``max_frames`` frames (still lazy for folders).
    frame_idx : int
        Frame shown first.
    output_dir : path, optional
        Export folder (editable in the ``output`` box); default ``<reports>/annotations/<video>``
        (``$WORKBENCH_REPORTS_DIR`` or ``./reports``).
    display_width : int, optional
        On-screen width of the frame, CSS pixels (default: the frame width, at most 1000).
    timeline_width : int, optional
        Width of the timeline strip in pixels (default: the frame's display width).
    first_object : str or None
        With a backend: name of the object created up front (None: none).
    fps : float
        Frame rate of the overlay MP4.
    play_interval_ms : int
        Delay between frames of the play button, milliseconds.
    detector : Detector, optional
        Detector of the "add objects from detector" button (also :meth:`set_detector`); the
        button reports in the status line when there is none.
    **canvas_kw
        More :class:`PromptCanvas` options (``opacity``, ``style``, ``image_format``,
        ``everything`` (default False here), ...).

    Attributes
    ----------
    session : VideoSession
    canvas : PromptCanvas of the shown frame (``canvas.canvas`` is the ``MultiCanvas``,
        ``canvas.image_layer`` / ``mask_layer`` / ``prompt_layer`` its layers)
    timeline : :class:`~workbench.widgets.video.timeline.TimelineStrip`; ``timeline.data`` its numbers
    frame_slider, play, prev_button, next_button, frame_label : the scrubber
    object_list, object_name, add_button, rename_button, remove_button : the object panel
    propagate_buttons : dict ``"forward" | "backward" | "both" -> Button``; ``from_current``,
        ``progress`` (IntProgress: ``value`` frames done of ``max``), ``cancel_button``
    detect_button : Button "add objects from detector"; ``detector`` (or None) and
        ``last_detected`` (the object ids its last use added)
    policy_dropdown : the tracking policy
    memory : :class:`~workbench.widgets.video.memory_panel.MemoryPanel` (``memory.toggle``,
        ``memory.trace``: the :class:`~workbench.types.MemoryTrace` shown)
    output_dir_text, export_buttons (``"davis" | "coco" | "mp4"``) : exports; ``last_export``
        maps each to what it wrote
    status : ipywidgets.HTML, the status line (shared with the canvas); ``state``,
        ``status_text``, ``last_error``
    gt : (T, H, W) uint8 or None
    last_propagation : PropagationResult or None
    video_name : str, used in export names

    Raises
    ------
    ConfigError
        ``video`` missing with a backend or given with a session; an image session.
    DatasetNotFoundError, DataError
        Unreadable video or ground truth.
    """

    def __init__(
        self,
        session_or_backend,
        video=None,
        gt=None,
        sync: bool = False,
        *,
        max_frames: int | None = None,
        frame_idx: int = 0,
        output_dir=None,
        display_width: int | None = None,
        timeline_width: int | None = None,
        first_object: str | None = "object 1",
        fps: float = 24.0,
        play_interval_ms: int = 150,
        detector: Detector | None = None,
        **canvas_kw,
    ):
        obj = session_or_backend
        self._tmp = None
        self._own_session = False
        if isinstance(obj, VideoSession):
            if video is not None or max_frames is not None:
                raise ConfigError("Pass video / max_frames only with a backend: this session already has its video.")
            session = obj
            name = video_name(session.video)
        elif isinstance(obj, ImageSession):
            raise ConfigError("VideoAnnotator drives video sessions; use PromptCanvas for an image session.")
        elif not isinstance(obj, VideoBackend):
            raise ConfigError(
                f"VideoAnnotator needs a VideoSession or a video backend "
                f"(workbench.backends.make_video_backend); got {type(obj).__name__}."
            )
        else:
            if video is None:
                raise ConfigError(
                    "VideoAnnotator(backend, video=...) needs the video: a frame folder, a video "
                    "file (mp4 ...) or a list of (H, W, 3) uint8 RGB frames."
                )
            source, self._tmp = limit_frames(video, max_frames)
            session = VideoSession(obj, source, first_object=first_object)
            self._own_session = True
            name = video_name(video)
        self.session = session
        self.video_name = name
        self.sync = bool(sync)
        self.fps = float(fps)
        self.gt = load_gt_ids(gt, session.num_frames, (session.height, session.width))
        self.last_propagation = None
        self.last_export: dict = {}
        self.detector: Detector | None = None
        self.last_detected: list[int] = []
        self._token: CancelToken | None = None
        self._syncing = False
        canvas_kw.setdefault("everything", False)
        self.canvas = PromptCanvas(session, frame_idx=frame_idx, sync=sync, display_width=display_width, **canvas_kw)
        self.canvas.add_class("wb-prompt-canvas")
        self.canvas.canvas.add_class("wb-canvas")
        self.canvas.status.add_class("wb-status")
        for w in (self.canvas.object_dropdown, self.canvas.add_object_button):
            w.layout.display = "none"  # the object panel replaces them
        self.status = self.canvas.status
        width = timeline_width or round(self.canvas.width_px * self.canvas.fit_zoom)
        self.timeline = TimelineStrip(session, self.gt, width=width, handler=self._handler)
        self.timeline.on_select(self.set_frame)
        out = reports_dir() / "annotations" / name if output_dir is None else output_dir
        self._build_controls(self.canvas.target.frame_idx, play_interval_ms, out)
        self.canvas.canvas.on_key_down(self._handler(self._on_key))
        self.canvas.on_change(self._handler(self._after_change))
        if detector is not None:
            self.set_detector(detector)
        super().__init__(self._layout())
        self.add_class("wb-video-annotator")
        self._sync_objects()
        self._show_frame(self.canvas.target.frame_idx)
        self.info.value = self._info_html()
        self._status("ready", f"{session.num_frames} frames · click on the frame to prompt the selected object")

    # -- construction -----------------------------------------------------------------------------
    def _build_controls(self, frame_idx: int, interval_ms: int, output_dir) -> None:
        last = self.session.num_frames - 1
        h = self._handler
        self.info = W.HTML()
        self.info.add_class("wb-info")
        self.help = W.HTML(HELP)
        self.help.add_class("wb-help")
        self.frame_slider = W.IntSlider(
            value=frame_idx,
            min=0,
            max=last,
            step=1,
            description="frame",
            continuous_update=True,
            layout=W.Layout(width="460px"),
        )
        self.frame_slider.add_class("wb-frame-slider")
        self.play = W.Play(
            value=frame_idx, min=0, max=last, step=1, interval=int(interval_ms), description="play", show_repeat=False
        )
        self.play.add_class("wb-play")
        W.link((self.play, "value"), (self.frame_slider, "value"))
        self.prev_button = _button("◀", "wb-prev-frame", "previous frame (, or ←)", width="40px")
        self.next_button = _button("▶", "wb-next-frame", "next frame (. or →)", width="40px")
        self.frame_label = W.HTML()
        self.frame_label.add_class("wb-frame-label")
        self.frame_slider.observe(h(lambda c: self._show_frame(int(c["new"]))), "value")
        self.prev_button.on_click(h(lambda _b: self.step(-1)))
        self.next_button.on_click(h(lambda _b: self.step(1)))

        self.object_list = W.Select(options=[], rows=5, description="objects", layout=W.Layout(width="280px"))
        self.object_list.add_class("wb-object-list")
        self.object_name = W.Text(placeholder="object name", description="name", layout=W.Layout(width="280px"))
        self.object_name.add_class("wb-object-name")
        self.add_button = _button("add", "wb-object-add", "add an object and select it", "plus")
        self.rename_button = _button(
            "rename", "wb-object-rename", "rename the selected object to the name above", "pencil"
        )
        self.remove_button = _button("remove", "wb-object-remove", "remove the selected object (undo: z)", "trash")
        self.object_list.observe(h(self._on_select_object), "value")
        self.add_button.on_click(h(lambda _b: self.add_object()))
        self.rename_button.on_click(h(lambda _b: self.rename_object(None, self.object_name.value)))
        self.object_name.continuous_update = False  # Enter (or leaving the box) renames; ipywidgets 8 way of on_submit
        self.object_name.observe(h(self._on_name_entered), names="value")
        self.remove_button.on_click(h(lambda _b: self.remove_object()))

        self.propagate_buttons = {}
        for d in ("backward", "both", "forward"):
            b = _button(DIRECTION_LABELS[d], f"wb-propagate-{d}", f"track every prompted object {d}")
            b.on_click(h(lambda _b, d=d: self.propagate(d)))
            self.propagate_buttons[d] = b
        self.from_current = W.Checkbox(value=False, description="start at the shown frame", indent=False)
        self.from_current.add_class("wb-propagate-from-current")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="tracking", layout=W.Layout(width="280px"))
        self.progress.add_class("wb-progress")
        self.cancel_button = _button(
            "cancel",
            "wb-cancel",
            "stop the propagation after the current frame",
            "stop",
        )
        self.cancel_button.disabled = True
        self.cancel_button.on_click(h(lambda _b: self.cancel()))
        policies = self.session.tracking_policies
        self.policy_dropdown = W.Dropdown(
            options=list(policies) or ["(none)"],
            value=self.session.tracking_policy or "(none)",
            description="policy",
            disabled=not policies,
            layout=W.Layout(width="220px"),
            tooltip="SAM 2 tracking policy (sam2's own, SAMURAI, ...)",
        )
        self.policy_dropdown.add_class("wb-policy")
        self.detect_button = _button(
            "add objects from detector",
            "wb-add-from-detector",
            "detect objects on the shown frame: each box becomes a new object (then propagate)",
            "search",
        )
        self.detect_button.on_click(h(lambda _b: self.add_objects_from_detector()))
        self.policy_dropdown.observe(h(lambda ch: self.set_policy(ch["new"])), names="value")
        self.memory = MemoryPanel(self.session, self.timeline)
        self.memory.toggle.observe(h(lambda _ch: self._update_memory()), names="value")

        self.output_dir_text = W.Text(value=str(output_dir), description="output", layout=W.Layout(width="520px"))
        self.output_dir_text.add_class("wb-output-dir")
        self.export_buttons = {
            "davis": _button(
                "DAVIS PNGs", "wb-export-davis", "palette PNG per frame (DAVIS results layout)", "download"
            ),
            "coco": _button("COCO RLE", "wb-export-coco", "COCO JSON with RLE masks", "download"),
            "mp4": _button("overlay MP4", "wb-export-mp4", "H.264 video with the masks blended in", "film"),
        }
        self.export_buttons["davis"].on_click(h(lambda _b: self.export_davis()))
        self.export_buttons["coco"].on_click(h(lambda _b: self.export_coco()))
        self.export_buttons["mp4"].on_click(h(lambda _b: self.export_mp4()))

    def _layout(self) -> list:
        scrubber = W.HBox(
            [self.play, self.prev_button, self.frame_slider, self.next_button, self.frame_label],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        objects = W.VBox(
            [
                W.HTML("<b>Objects</b>"),
                self.object_list,
                self.object_name,
                W.HBox([self.add_button, self.rename_button, self.remove_button]),
                self.detect_button,
            ]
        )
        tracking = W.VBox(
            [
                W.HTML("<b>Propagation</b>"),
                W.HBox([self.propagate_buttons["backward"], self.propagate_buttons["forward"]]),
                W.HBox([self.propagate_buttons["both"], self.cancel_button]),
                self.from_current,
                W.HBox([self.policy_dropdown, self.memory.toggle]),
                self.progress,
            ]
        )
        side = W.VBox([objects, tracking], layout=W.Layout(width="300px", margin="0 0 0 12px"))
        exports = W.HBox(
            [self.output_dir_text, *self.export_buttons.values()],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        main = W.HBox([self.canvas, side], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        return [self.info, scrubber, main, self.timeline, self.memory, exports, self.help]

    def _set_busy(self, busy: bool) -> None:
        for b in [*self.propagate_buttons.values(), *self.export_buttons.values(), self.detect_button]:
            b.disabled = busy
        self.cancel_button.disabled = not busy

    # -- objects ----------------------------------------------------------------------------------
    def _sync_objects(self) -> None:
        if sync_object_selector(self, self.object_list):
            objects, active = self.session.objects, self.session.active_obj_id
            self.object_name.value = objects[active].name if active in objects else ""

    def _on_select_object(self, change) -> None:
        if self._syncing or change["new"] is None:
            return
        oid = int(change["new"])
        self.session.set_active(oid)
        self.object_name.value = self.session.objects[oid].name
        self.canvas.refresh()
        self._update_memory()

    def _selected(self, obj_id) -> int:
        if obj_id is not None:
            return int(obj_id)
        oid = self.session.active_obj_id
        if oid is None:
            raise PromptError("No object selected: add one first.")
        return oid

    def add_object(self, name: str | None = None):
        """Add an object (default name ``"object <id>"``) and select it. Returns its ``obj_id``
        (a Future in async mode). Undoable."""
        return self.canvas._call("adding object", self.session.add_object, name)

    def set_detector(self, detector: Detector | None) -> None:
        """Use ``detector`` (a :class:`~workbench.types.Detector`, e.g. from
        ``workbench.backends.detectors.make_detector``) for "add objects from detector"; None
        removes it.

        Raises
        ------
        ConfigError
            ``detector`` has no ``detect(frame, frame_idx)`` method.
        """
        if detector is not None and not isinstance(detector, Detector):
            raise ConfigError(
                f"detector must have detect(frame, frame_idx) -> Detections (workbench.types.Detector); got "
                f"{type(detector).__name__}. Build one with workbench.backends.detectors.make_detector."
            )
        self.detector = detector
        self.detect_button.tooltip = (
            f"detect objects on the shown frame with {detector.info.backend}/{detector.info.model}"
            if detector is not None
            else "no detector: pass VideoAnnotator(..., detector=...) or call set_detector()"
        )

    def add_objects_from_detector(self, frame_idx: int | None = None, iou_threshold: float | None = None):
        """Run the detector on ``frame_idx`` (default: the shown frame; the scrubber moves
        there) and add each detection as a new object prompted with its box. Returns the new
        object ids (a Future in async mode); the status line says how many were added.

        Parameters
        ----------
        iou_threshold : float, optional
            Skip detections overlapping an object already on the frame by this box IoU or more
            (Det-SAM2's new-object rule); None adds every detection.

        Raises
        ------
        ConfigError
            No detector (see :meth:`set_detector`).
        PromptError
            Frame out of range.
        """
        if self.detector is None:
            raise ConfigError(
                "No detector: pass VideoAnnotator(..., detector=...) or call set_detector(), e.g. with "
                "workbench.backends.detectors.make_detector(DetectorSpec(kind='torchvision', weights=...))."
            )
        if frame_idx is not None:
            self.set_frame(frame_idx)
        f = self.frame_idx

        def then(ids):
            self.last_detected = list(ids)

        add = partial(self.session.add_objects_from_detector, iou_threshold=iou_threshold)
        return self.canvas._call(DETECT_LABEL, add, f, self.detector, then=then)

    def _on_name_entered(self, change) -> None:
        """The name box was submitted: rename the selected object (not when the box merely
        follows the selection)."""
        if self._syncing or not str(change["new"]).strip():
            return
        oid = self.session.active_obj_id
        if oid in self.session.objects and self.session.objects[oid].name != str(change["new"]).strip():
            self.rename_object(None, change["new"])

    def rename_object(self, obj_id: int | None, name: str):
        """Rename ``obj_id`` (default: the selected object).

        Raises
        ------
        PromptError
            Empty name; no object.
        UnknownNameError
            Unknown ``obj_id``.
        """
        name = str(name).strip()
        if not name:
            raise PromptError("Type a name for the object first (the name box is empty).")
        return self.canvas._call("renaming object", self.session.rename_object, self._selected(obj_id), name)

    def remove_object(self, obj_id: int | None = None):
        """Remove ``obj_id`` (default: the selected object) with its prompts and masks (undo: z)."""
        return self.canvas._call("removing object", self.session.remove_object, self._selected(obj_id))

    # -- exports ----------------------------------------------------------------------------------
    def _out(self) -> Path:
        text = self.output_dir_text.value.strip()
        if not text:
            raise ConfigError("Type an output folder in the 'output' box before exporting.")
        return Path(text).expanduser()

    def export_davis(self, folder=None):
        """Write every frame's label map as a DAVIS palette PNG ``%05d.png`` (frames never
        tracked are all background) to ``folder`` (default ``<output>/davis/<video name>``).

        Returns the list of paths (a Future in async mode). Raises ``DataError`` when nothing
        was tracked yet."""
        folder = Path(folder) if folder is not None else self._out() / "davis" / self.video_name
        n = self.session.num_frames

        def done(paths):
            self.last_export["davis"] = paths
            self._status("ready", f"wrote {len(paths)} DAVIS PNGs to {folder.resolve()}")

        return self._run("exporting DAVIS PNGs", lambda: export_davis_pngs(self.session, folder, num_frames=n), done)

    def export_coco(self, path=None):
        """Write the tracked frames as COCO RLE JSON (``pycocotools``) to ``path`` (default
        ``<output>/<video name>_coco_rle.json``). Returns the path (a Future in async mode)."""
        path = Path(path) if path is not None else self._out() / f"{self.video_name}_coco_rle.json"

        def done(p):
            self.last_export["coco"] = p
            self._status("ready", f"wrote COCO RLE JSON to {Path(p).resolve()}")

        return self._run(
            "exporting COCO RLE",
            lambda: export_coco_rle(
                self.session, path, video_name=self.video_name, object_names=session_object_names(self.session)
            ),
            done,
        )

    def export_mp4(self, path=None, fps: float | None = None):
        """Write an H.264 MP4 of every frame with the masks blended in the objects' colours
        (PyAV) to ``path`` (default ``<output>/<video name>_overlay.mp4``) at ``fps`` (default
        :attr:`fps`). Returns the path (a Future in async mode)."""
        path = Path(path) if path is not None else self._out() / f"{self.video_name}_overlay.mp4"
        rate = self.fps if fps is None else float(fps)

        def done(p):
            self.last_export["mp4"] = p
            self._status(
                "ready", f"wrote overlay MP4 ({self.session.num_frames} frames, {rate:g} fps) to {Path(p).resolve()}"
            )

        return self._run(
            "exporting overlay MP4",
            lambda: export_overlay_mp4(self.session, self.session, path, fps=rate, colors=session_colors(self.session)),
            done,
        )

    # -- status ----------------------------------------------------------------------------------
    def _handler(self, fn):
        """Wrap an event handler: errors go to the status line."""
        return self.canvas._handler(fn)

    def _status(self, state: str, detail: str = "", busy: bool = False) -> None:
        self.canvas.state = state
        word = state + ("…" if busy else "")
        self.status.value = f"<b>{html.escape(word)}</b>" + (f" · {html.escape(detail)}" if detail else "")

    @property
    def state(self) -> str:
        """State word of the status line: ``"ready"``, ``"propagating"``, ``"error"``, ..."""
        return self.canvas.state

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return self.canvas.status_text

    @property
    def last_error(self) -> BaseException | None:
        """The last error shown in the status line (None after a success)."""
        return self.canvas.last_error

    def set_policy(self, name: str, params: dict | None = None) -> None:
        """Track with SAM 2 tracking policy ``name`` from the next propagation on (the dropdown
        follows); the header and status line say which policy is in use.

        Raises (shown in the status line when called from the dropdown)
        ------
        BackendError, UnknownNameError, ConfigError
            No policies on this backend, unknown policy or parameter.
        """
        if name == self.session.tracking_policy and not params:
            return
        self.session.set_tracking_policy(name, params)
        if self.policy_dropdown.value != name:
            self.policy_dropdown.value = name
        self.info.value = self._info_html()
        self._status("ready", f"tracking policy {name}: propagate again to track with it")

    def _info_html(self) -> str:
        s = self.session
        model = s.backend_label
        warn = " · <b style='color:#c62828'>UNTRAINED weights: masks are meaningless</b>" if s.backend_untrained else ""
        gt = "ground truth: yes (J per frame)" if self.gt is not None else "no ground truth"
        settings = s.backend_video_settings
        settings = f" · {html.escape(settings)}" if settings else ""
        policy = f" · policy {html.escape(s.tracking_policy)}" if s.tracking_policy else ""
        return (
            f"<b>{html.escape(self.video_name)}</b> · {s.num_frames} frames · {s.width}×{s.height} · "
            f"{html.escape(model)}{policy}{settings} · {gt}{warn}"
        )

    # -- frames ----------------------------------------------------------------------------------
    @property
    def frame_idx(self) -> int:
        """Index of the frame shown (settable; the scrubber follows)."""
        return self.canvas.target.frame_idx

    @frame_idx.setter
    def frame_idx(self, value: int) -> None:
        self.set_frame(value)

    def set_frame(self, frame_idx: int) -> None:
        """Show frame ``frame_idx`` (canvas, scrubber, timeline cursor).

        Raises
        ------
        PromptError
            Out of range.
        """
        f = self.session._check_frame(frame_idx)
        if self.frame_slider.value != f:
            self.frame_slider.value = f  # the observer shows it
        else:
            self._show_frame(f)

    def step(self, delta: int) -> None:
        """Move the scrubber by ``delta`` frames (clamped to the video)."""
        self.set_frame(min(max(self.frame_idx + int(delta), 0), self.session.num_frames - 1))

    def _show_frame(self, f: int) -> None:
        if self.canvas.target.frame_idx != f:
            self.canvas.set_frame(f)
        last = self.session.num_frames - 1
        self.frame_label.value = f"<span class='wb-frame-idx' data-frame='{f}'>frame {f}</span> / {last}"
        self.timeline.set_frame(f)
        self._update_memory()

    # -- memory (teaching view) ------------------------------------------------------------------
    def show_memory(self, on: bool = True) -> MemoryTrace | None:
        """Switch the memory view on (or off); returns the trace of the shown frame and selected
        object (None when off or not tracked there). Same as pressing the *memory* toggle."""
        if self.memory.toggle.value != bool(on):
            self.memory.toggle.value = bool(on)  # the observer updates the panel
        else:
            self._update_memory()
        return self.memory.trace

    def _update_memory(self) -> None:
        """Show the shown frame's trace of the selected object; an error goes to the status line
        (scrubbing never fails because of the panel)."""
        try:
            self.memory.show(self.frame_idx, self.session.active_obj_id)
        except Exception as exc:  # shown to the user instead of a traceback
            self.canvas._show_error(exc)

    def _on_key(self, key, shift=False, ctrl=False, meta=False) -> None:
        if ctrl or meta:
            return
        if key in ("ArrowLeft", "ArrowRight") and shift:
            self.step(10 * FRAME_KEYS[key])
        elif key in FRAME_KEYS:
            self.step(FRAME_KEYS[key])
        elif key == "Home":
            self.set_frame(0)
        elif key == "End":
            self.set_frame(self.session.num_frames - 1)

    def _after_change(self, label=None) -> None:
        self._sync_objects()
        self.timeline.refresh()
        if label == DETECT_LABEL:
            n = len(self.last_detected)
            self._status(
                "ready",
                f"added {n} object{'s' * (n != 1)} from the detector on frame {self.frame_idx}: propagate to track them"
                if n
                else f"the detector found no new object on frame {self.frame_idx}",
            )
        self._update_memory()

    def refresh(self) -> None:
        """Redraw everything from the session (e.g. after changing it directly)."""
        self.canvas.refresh()
        self._after_change()
        self._show_frame(self.frame_idx)

    # -- prompts ---------------------------------------------------------------------------------
    def click(self, x: int, y: int, positive: bool = True, frame_idx: int | None = None):
        """Click at image pixel column ``x``, row ``y`` for the selected object on
        ``frame_idx`` (default: the shown frame; the scrubber moves there). Returns the mask
        (a Future in async mode). Raises ``PromptError`` outside the frame."""
        if frame_idx is not None:
            self.set_frame(frame_idx)
        return self.canvas.click(x, y, positive)

    # -- propagation -----------------------------------------------------------------------------
    def propagate(self, direction: str = "forward", start_frame_idx: int | None = None, progress=None):
        """Track every prompted object through the video.

        Parameters
        ----------
        direction : {"forward", "backward", "both"}
        start_frame_idx : int, optional
            Default: the shown frame when "start at the shown frame" is ticked, else the
            earliest prompted frame (SAM 2's default).
        progress : callable, optional
            Also called as ``progress(done, total, frame_idx)`` after each frame (on the worker
            thread in async mode), e.g. to cancel programmatically.

        Returns
        -------
        PropagationResult (``sync=True``) or a Future of it.

        Raises
        ------
        PromptError
            Nothing prompted yet, or a propagation is already running.
        UnknownNameError
            Bad direction.
        """
        if direction not in DIRECTION_LABELS:
            raise UnknownNameError("propagation direction", direction, list(DIRECTION_LABELS))
        if self._token is not None:
            raise PromptError("A propagation is running: wait for it or press cancel.")
        if not self.session.prompts:
            raise PromptError("Nothing to propagate: click on an object in a frame first.")
        if start_frame_idx is None and self.from_current.value:
            start_frame_idx = self.frame_idx
        token = self._token = CancelToken()
        self._set_busy(True)
        self.progress.bar_style = ""
        self.progress.max, self.progress.value = 1, 0
        self._status("propagating", direction, busy=True)

        def on_progress(done, total, f):
            self.progress.max, self.progress.value = max(int(total), 1), int(done)
            self._status("propagating", f"{direction} {done}/{total} · frame {f}", busy=True)
            if f == self.frame_idx:
                self.canvas._redraw(candidates=False)
            if progress is not None:
                progress(done, total, f)

        args = (direction, start_frame_idx, None, on_progress, token)
        if self.sync:
            try:
                res = self.session.propagate(*args)
            except BaseException as exc:
                self._end_propagation(None, exc)
                raise
            self._end_propagation(res)
            return res

        def on_done(fut):
            if fut.cancelled():
                self._end_propagation(None, None)
                return
            exc = fut.exception()
            self._end_propagation(None if exc else fut.result(), exc)  # shows the error, if any

        return self.session.propagate_async(*args, on_done=self._handler(on_done))

    def _end_propagation(self, res, exc=None) -> None:
        self._token = None
        self._set_busy(False)
        self.canvas.refresh()
        self._after_change()
        if res is None:
            self.progress.bar_style = "danger"
            if exc is None:
                self._status("ready", "propagation dropped")
            elif isinstance(exc, Exception):
                self.canvas._show_error(exc)
            return
        self.last_propagation = res
        n, total = len(res.frames), self.progress.max
        if res.cancelled:
            self.progress.bar_style = "warning"
            self._status(
                "ready",
                f"propagation cancelled after {n} of {total} frames "
                f"(frames {min(res.frames)}–{max(res.frames)} updated)",
            )
        else:
            self.progress.bar_style = "success"
            self.progress.value = self.progress.max
            self._status("ready", f"propagated {n} frames in {res.seconds:.1f} s ({res.fps:.1f} fps)")

    def cancel(self) -> None:
        """Stop the running propagation after its current frame (no-op when none runs)."""
        token = self._token
        if token is not None:
            token.cancel()
            self._status("cancelling", "after the current frame", busy=True)
        self.session.cancel()

    # -- running -----------------------------------------------------------------------------------
    def _run(self, label: str, fn, done):
        """Run ``fn`` (an export) synchronously or on the session worker; ``done(result)`` after."""
        self._status(label, busy=True)
        if self.sync:
            try:
                result = fn()
            except Exception as exc:
                self.canvas._show_error(exc)
                raise
            done(result)
            return result

        def on_done(fut):
            if fut.cancelled():
                return
            if fut.exception() is not None:
                raise fut.exception()
            done(fut.result())

        return self.session.submit(fn, on_done=self._handler(on_done))

    def wait(self, timeout: float | None = None) -> None:
        """Block until queued clicks, propagations and exports are done (async mode), e.g. in
        a notebook run top to bottom.

        Raises
        ------
        TimeoutError
            Still busy after ``timeout`` seconds.
        Exception
            The error of a failed background job (also shown in the status line).
        """
        if not self.sync and not self.session.worker.wait_idle(timeout):
            raise TimeoutError(f"The annotator is still busy after {timeout} s.")
        if self.state == "error" and self.last_error is not None:
            raise self.last_error

    def close(self) -> None:
        """Close the widget; stop the session's worker when the annotator built the session and
        delete the temporary frame links of ``max_frames``."""
        if self._own_session:
            self.session.close()
        super().close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


__all__ = ["DETECT_LABEL", "DIRECTION_LABELS", "EXPORTS", "FRAME_KEYS", "HELP", "VideoAnnotator"]
