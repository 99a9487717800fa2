"""``VideoAnnotator``: prompt, track, refine and export objects through a video in a notebook.

The workflow of SAM 2's video notebook (``notebooks/video_predictor_example.ipynb``) as one
widget on a :class:`~workbench.sessions.VideoSession`:

* a frame scrubber (slider, play / pause, step buttons, keys ``,`` / ``.`` and arrows on the
  focused canvas) and the shown frame on an embedded
  :class:`~workbench.widgets.prompt_canvas.PromptCanvas` (clicks, boxes, undo / redo);
* an object list (add, rename, remove, select: prompts go to the selected object, on any frame);
* propagation forward / backward / both from the earliest prompted frame (or the shown frame)
  with a progress bar and a cancel button; refinement clicks on any frame, then propagate again;
* a per-object timeline (:class:`~workbench.widgets.timeline.TimelineStrip`: presence, object
  score, and J per frame when ground truth is given); clicking it moves the scrubber;
* exports through :mod:`workbench.io.export`: DAVIS palette PNGs, COCO RLE JSON, overlay MP4.

Frames come from a JPEG/PNG folder or a video file and are decoded lazily
(:class:`~workbench.io.frames.FrameSource`). Model calls, propagation and exports run on the
session's worker thread (the notebook stays responsive; cancel stops a propagation after its
current frame) unless ``sync=True`` (tests, papermill). Errors raised while handling a browser
event are shown in the status line (``wb-status``), never raised; the public methods raise.
Widget classes for browser tests: :mod:`.video_controls`.
"""
from __future__ import annotations

import html

import ipywidgets as W

from ..config import reports_dir
from ..errors import ConfigError, PromptError
from ..sessions import CancelToken, VideoSession
from .prompt_canvas import PromptCanvas
from .timeline import TimelineStrip
from .video_controls import DIRECTION_LABELS, VideoControlsMixin
from .video_inputs import limit_frames, load_gt_ids, video_name

FRAME_KEYS = {",": -1, ".": 1, "ArrowLeft": -1, "ArrowRight": 1, "<": -10, ">": 10}
"""Keys on the focused canvas that move the scrubber (Shift + arrow: 10 frames; Home / End)."""


class VideoAnnotator(VideoControlsMixin, W.VBox):
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
    **canvas_kw
        More :class:`PromptCanvas` options (``opacity``, ``style``, ``image_format``,
        ``everything`` (default False here), ...).

    Attributes
    ----------
    session : VideoSession
    canvas : PromptCanvas of the shown frame (``canvas.canvas`` is the ``MultiCanvas``,
        ``canvas.image_layer`` / ``mask_layer`` / ``prompt_layer`` its layers)
    timeline : :class:`~workbench.widgets.timeline.TimelineStrip`; ``timeline.data`` its numbers
    frame_slider, play, prev_button, next_button, frame_label : the scrubber
    object_list, object_name, add_button, rename_button, remove_button : the object panel
    propagate_buttons : dict ``"forward" | "backward" | "both" -> Button``; ``from_current``,
        ``progress`` (IntProgress: ``value`` frames done of ``max``), ``cancel_button``
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

    def __init__(self, session_or_backend, video=None, gt=None, sync: bool = False, *,
                 max_frames: int | None = None, frame_idx: int = 0, output_dir=None,
                 display_width: int | None = None, timeline_width: int | None = None,
                 first_object: str | None = "object 1", fps: float = 24.0, play_interval_ms: int = 150,
                 **canvas_kw):
        obj = session_or_backend
        self._tmp = None
        self._own_session = False
        if getattr(obj, "kind", None) == "video" and callable(getattr(obj, "propagate", None)):
            if video is not None or max_frames is not None:
                raise ConfigError("Pass video / max_frames only with a backend: this session already has its video.")
            session = obj
            name = video_name(session.video)
        elif getattr(obj, "kind", None) == "image":
            raise ConfigError("VideoAnnotator drives video sessions; use PromptCanvas for an image session.")
        elif not callable(getattr(obj, "init_state", None)):
            raise ConfigError(f"VideoAnnotator needs a VideoSession or a video backend "
                              f"(workbench.backends.make_video_backend); got {type(obj).__name__}.")
        else:
            if video is None:
                raise ConfigError("VideoAnnotator(backend, video=...) needs the video: a frame folder, a video "
                                  "file (mp4 ...) or a list of (H, W, 3) uint8 RGB frames.")
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
        self._token: CancelToken | None = None
        self._syncing = False
        canvas_kw.setdefault("everything", False)
        self.canvas = PromptCanvas(session, frame_idx=frame_idx, sync=sync, display_width=display_width,
                                   **canvas_kw)
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
        super().__init__(self._layout())
        self.add_class("wb-video-annotator")
        self._sync_objects()
        self._show_frame(self.canvas.target.frame_idx)
        self.info.value = self._info_html()
        self._status("ready", f"{session.num_frames} frames · click on the frame to prompt the selected object")

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

    def _info_html(self) -> str:
        s = self.session
        info = getattr(s.backend, "info", None)
        model = f"{info.backend} · {info.model} · {info.device}" if info is not None else type(s.backend).__name__
        warn = (" · <b style='color:#c62828'>UNTRAINED weights: masks are meaningless</b>"
                if getattr(info, "untrained", False) else "")
        gt = "ground truth: yes (J per frame)" if self.gt is not None else "no ground truth"
        return (f"<b>{html.escape(self.video_name)}</b> · {s.num_frames} frames · {s.width}×{s.height} · "
                f"{html.escape(model)} · {gt}{warn}")

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
        self.frame_label.value = (f"<span class='wb-frame-idx' data-frame='{f}'>frame {f}</span> / {last}")
        self.timeline.set_frame(f)

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
            from ..errors import UnknownNameError

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
            self._status("ready", f"propagation cancelled after {n} of {total} frames "
                                  f"(frames {min(res.frames)}–{max(res.frames)} updated)")
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


__all__ = ["FRAME_KEYS", "VideoAnnotator"]
