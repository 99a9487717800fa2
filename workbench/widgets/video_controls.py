"""Controls half of :class:`~workbench.widgets.video_annotator.VideoAnnotator` (a mixin): the
widgets (scrubber, object list, propagation, exports) with their CSS classes, the object list
operations and the export buttons.

CSS classes (for browser tests): ``wb-video-annotator`` (whole widget), ``wb-info``,
``wb-frame-slider``, ``wb-play``, ``wb-prev-frame``, ``wb-next-frame``, ``wb-frame-label`` (its
``span.wb-frame-idx`` holds the shown frame index, also as ``data-frame``), ``wb-object-list``,
``wb-object-name``, ``wb-object-add``, ``wb-object-rename``, ``wb-object-remove``,
``wb-propagate-forward``, ``wb-propagate-backward``, ``wb-propagate-both``,
``wb-propagate-from-current``, ``wb-progress``, ``wb-cancel``, ``wb-output-dir``,
``wb-export-davis``, ``wb-export-coco``, ``wb-export-mp4``, ``wb-status`` (the status line),
``wb-canvas`` (the frame's ``MultiCanvas``), ``wb-prompt-canvas`` (the canvas with its
toolbars), ``wb-timeline`` (the timeline strip canvas), ``wb-timeline-readout``, ``wb-help``.
"""
from __future__ import annotations

from pathlib import Path

import ipywidgets as W

from ..errors import ConfigError, PromptError
from .canvas_render import sync_object_selector
from ..io.export import (export_coco_rle, export_davis_pngs, export_overlay_mp4, session_colors,
                         session_object_names)

DIRECTION_LABELS = {"backward": "◀ propagate backward", "both": "◀ both ▶", "forward": "propagate forward ▶"}
EXPORTS = ("davis", "coco", "mp4")
HELP = ("<span style='font-size:12px;color:#555'>Click on the frame to prompt the selected object "
        "(p / n: positive / negative clicks, b: box, z / y: undo / redo, Esc: clear); "
        "<b>,</b> / <b>.</b> or ← / →: previous / next frame, &lt; / &gt; or Shift+← / →: 10 frames, "
        "Home / End: first / last frame (click the frame first to give it the keyboard).</span>")


def _button(description: str, css: str, tooltip: str = "", icon: str = "", width: str = "auto") -> W.Button:
    b = W.Button(description=description, tooltip=tooltip or description, icon=icon, layout=W.Layout(width=width))
    b.add_class(css)
    return b


class VideoControlsMixin:
    """Needs ``session``, ``canvas`` (PromptCanvas), ``timeline``, ``sync`` and the status helpers
    of :class:`~workbench.widgets.video_annotator.VideoAnnotator`."""

    # -- construction -----------------------------------------------------------------------------
    def _build_controls(self, frame_idx: int, interval_ms: int, output_dir) -> None:
        last = self.session.num_frames - 1
        h = self._handler
        self.info = W.HTML()
        self.info.add_class("wb-info")
        self.help = W.HTML(HELP)
        self.help.add_class("wb-help")
        self.frame_slider = W.IntSlider(value=frame_idx, min=0, max=last, step=1, description="frame",
                                        continuous_update=True, layout=W.Layout(width="460px"))
        self.frame_slider.add_class("wb-frame-slider")
        self.play = W.Play(value=frame_idx, min=0, max=last, step=1, interval=int(interval_ms),
                           description="play", show_repeat=False)
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
        self.rename_button = _button("rename", "wb-object-rename", "rename the selected object to the name above",
                                     "pencil")
        self.remove_button = _button("remove", "wb-object-remove", "remove the selected object (undo: z)", "trash")
        self.object_list.observe(h(self._on_select_object), "value")
        self.add_button.on_click(h(lambda _b: self.add_object()))
        self.rename_button.on_click(h(lambda _b: self.rename_object(None, self.object_name.value)))
        self.object_name.on_submit(h(lambda _t: self.rename_object(None, self.object_name.value)))
        self.remove_button.on_click(h(lambda _b: self.remove_object()))

        self.propagate_buttons = {}
        for d in ("backward", "both", "forward"):
            b = _button(DIRECTION_LABELS[d], f"wb-propagate-{d}", f"track every prompted object {d}")
            b.on_click(h(lambda _b, d=d: self.propagate(d)))
            self.propagate_buttons[d] = b
        self.from_current = W.Checkbox(value=False, description="start at the shown frame", indent=False)
        self.from_current.add_class("wb-propagate-from-current")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="tracking",
                                      layout=W.Layout(width="280px"))
        self.progress.add_class("wb-progress")
        self.cancel_button = _button("cancel", "wb-cancel", "stop the propagation after the current frame", "stop",)
        self.cancel_button.disabled = True
        self.cancel_button.on_click(h(lambda _b: self.cancel()))

        self.output_dir_text = W.Text(value=str(output_dir), description="output", layout=W.Layout(width="520px"))
        self.output_dir_text.add_class("wb-output-dir")
        self.export_buttons = {
            "davis": _button("DAVIS PNGs", "wb-export-davis", "palette PNG per frame (DAVIS results layout)", "download"),
            "coco": _button("COCO RLE", "wb-export-coco", "COCO JSON with RLE masks", "download"),
            "mp4": _button("overlay MP4", "wb-export-mp4", "H.264 video with the masks blended in", "film"),
        }
        self.export_buttons["davis"].on_click(h(lambda _b: self.export_davis()))
        self.export_buttons["coco"].on_click(h(lambda _b: self.export_coco()))
        self.export_buttons["mp4"].on_click(h(lambda _b: self.export_mp4()))

    def _layout(self) -> list:
        scrubber = W.HBox([self.play, self.prev_button, self.frame_slider, self.next_button, self.frame_label],
                          layout=W.Layout(align_items="center", flex_flow="row wrap"))
        objects = W.VBox([W.HTML("<b>Objects</b>"), self.object_list, self.object_name,
                          W.HBox([self.add_button, self.rename_button, self.remove_button])])
        tracking = W.VBox([W.HTML("<b>Propagation</b>"), W.HBox([self.propagate_buttons["backward"],
                                                                 self.propagate_buttons["forward"]]),
                           W.HBox([self.propagate_buttons["both"], self.cancel_button]), self.from_current,
                           self.progress])
        side = W.VBox([objects, tracking], layout=W.Layout(width="300px", margin="0 0 0 12px"))
        exports = W.HBox([self.output_dir_text, *self.export_buttons.values()],
                         layout=W.Layout(flex_flow="row wrap", align_items="center"))
        main = W.HBox([self.canvas, side], layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        return [self.info, scrubber, main, self.timeline, exports, self.help]

    def _set_busy(self, busy: bool) -> None:
        for b in [*self.propagate_buttons.values(), *self.export_buttons.values()]:
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

        return self._run("exporting COCO RLE", lambda: export_coco_rle(
            self.session, path, video_name=self.video_name, object_names=session_object_names(self.session)), done)

    def export_mp4(self, path=None, fps: float | None = None):
        """Write an H.264 MP4 of every frame with the masks blended in the objects' colours
        (PyAV) to ``path`` (default ``<output>/<video name>_overlay.mp4``) at ``fps`` (default
        :attr:`fps`). Returns the path (a Future in async mode)."""
        path = Path(path) if path is not None else self._out() / f"{self.video_name}_overlay.mp4"
        rate = self.fps if fps is None else float(fps)

        def done(p):
            self.last_export["mp4"] = p
            self._status("ready", f"wrote overlay MP4 ({self.session.num_frames} frames, {rate:g} fps) to "
                                  f"{Path(p).resolve()}")

        return self._run("exporting overlay MP4", lambda: export_overlay_mp4(
            self.session, self.session, path, fps=rate, colors=session_colors(self.session)), done)


__all__ = ["DIRECTION_LABELS", "EXPORTS", "HELP", "VideoControlsMixin"]
