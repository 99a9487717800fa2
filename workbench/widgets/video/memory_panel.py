"""The annotator's teaching view: which memories fed the prediction on the frame on screen.

SAM 2 predicts an object on a frame from its image features conditioned on a *memory bank*:
the memories of the prompted (conditioning) frames, ``num_maskmem - 1`` = 6 recent
(non-conditioning) memories and up to 16 object pointers. Tracking policies change that choice
(SAMURAI keeps only confident recent frames; SAM2Long reads those of its best memory pathway)
and score each frame their own way. :class:`MemoryPanel` shows, for the shown frame and the
selected object, what the model actually attended (recorded while it ran:
:meth:`workbench.sessions.VideoSession.memory_trace`):

* a strip under the timeline, aligned with its frame columns, with one row per kind: the
  conditioning frames (blue), the non-conditioning memory frames (green), the object-pointer
  frames (orange) and the shown frame (red outline);
* the same as lists, and the policy's scores as a table.

It is off until its toggle is pressed (then it follows the frame and the selected object), so it
costs nothing when not used. CSS classes: ``wb-memory-toggle``, ``wb-memory-strip`` (marks:
``rect.wb-mem-cond`` / ``rect.wb-mem-non-cond`` / ``circle.wb-mem-ptr`` with ``data-frame``),
``wb-memory`` (the lists and scores; ``data-frame``, ``data-obj``, ``data-policy``,
``data-cond``, ``data-non-cond``, ``data-obj-ptr`` hold the shown trace).
"""

from __future__ import annotations

import html

import ipywidgets as W

from ...types import MemoryTrace
from .timeline import GUTTER

ROWS = (("cond", "conditioning", "#1e63c8"), ("non-cond", "memory", "#2e9d4a"), ("ptr", "obj. pointers", "#e08600"))
"""Strip rows: (css suffix, label, colour)."""
ROW_H = 14
"""Height of one strip row, pixels."""
CURSOR = "#d32f2f"


def _frames(values: tuple[int, ...]) -> str:
    return " ".join(str(v) for v in values)


class MemoryPanel(W.VBox):
    """Which memories fed the prediction on the shown frame (see the module docstring).

    Parameters
    ----------
    session : VideoSession
    timeline : TimelineStrip
        The strip's frame columns are drawn at the timeline's (``x_of`` / ``cell``).

    Attributes
    ----------
    toggle : ToggleButton (``value``: shown)
    strip, details : ipywidgets.HTML
    trace : MemoryTrace or None, the trace shown (None: nothing tracked there, or hidden)
    frame_idx, obj_id : what was asked for last
    """

    def __init__(self, session, timeline):
        self.session = session
        self.timeline = timeline
        self.trace: MemoryTrace | None = None
        self.frame_idx: int | None = None
        self.obj_id: int | None = None
        available = bool(session.has_memory_trace)
        self.toggle = W.ToggleButton(
            value=False,
            description="memory",
            icon="eye",
            disabled=not available,
            tooltip=(
                "show which memories fed the prediction on this frame"
                if available
                else "this backend records no memories (SAM 2 video backends do)"
            ),
            layout=W.Layout(width="110px"),
        )
        self.toggle.add_class("wb-memory-toggle")
        self.strip = W.HTML()
        self.strip.add_class("wb-memory-strip")
        self.details = W.HTML()
        self.details.add_class("wb-memory")
        self.body = W.VBox([self.strip, self.details], layout=W.Layout(display="none"))
        super().__init__([self.body])

    @property
    def visible(self) -> bool:
        """The toggle is on."""
        return bool(self.toggle.value)

    def show(self, frame_idx: int, obj_id: int | None) -> MemoryTrace | None:
        """Show the trace of ``obj_id`` on ``frame_idx`` (nothing when the toggle is off, or no
        object). Returns it.

        Raises
        ------
        BackendError, PromptError, UnknownNameError
            As :meth:`~workbench.sessions.VideoSession.memory_trace`.
        """
        self.frame_idx, self.obj_id = int(frame_idx), obj_id
        self.body.layout.display = "" if self.visible else "none"
        if not self.visible:
            self.trace = None
            return None
        if obj_id is None:
            self.trace = None
            self.strip.value = ""
            self.details.value = "<div class='wb-memory'>Add an object to see what fed its predictions.</div>"
            return None
        self.trace = self.session.memory_trace(frame_idx, obj_id)
        self.strip.value = self._strip_html(self.trace, int(frame_idx))
        self.details.value = self._details_html(self.trace, int(frame_idx), int(obj_id))
        return self.trace

    # -- rendering --------------------------------------------------------------------------------
    def _strip_html(self, trace: MemoryTrace | None, frame_idx: int) -> str:
        tl = self.timeline
        width, cell = tl.width_px, tl.cell
        height = ROW_H * len(ROWS) + 2
        size = max(2.0, min(cell - 1.0, ROW_H - 4.0))
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"style='display:block;font:10px sans-serif'>"
        ]
        kinds = (
            trace.cond_frames if trace else (),
            trace.non_cond_frames if trace else (),
            trace.obj_ptr_frames if trace else (),
        )
        for r, ((css, label, color), frames) in enumerate(zip(ROWS, kinds)):
            y = 1 + r * ROW_H
            parts.append(f"<text x='4' y='{y + ROW_H - 4}' fill='{color}'>{html.escape(label)}</text>")
            parts.append(
                f"<line x1='{GUTTER}' x2='{width - 4}' y1='{y + ROW_H / 2}' y2='{y + ROW_H / 2}' stroke='#eee'/>"
            )
            for f in sorted(set(frames)):
                cx, cy = tl.cell_center(f), y + ROW_H / 2
                if css == "ptr":
                    parts.append(
                        f"<circle class='wb-mem-ptr' data-frame='{f}' cx='{cx:.1f}' cy='{cy:.1f}' "
                        f"r='{size / 2:.1f}' fill='{color}'><title>object pointer of frame {f}</title></circle>"
                    )
                else:
                    parts.append(
                        f"<rect class='wb-mem-{css}' data-frame='{f}' x='{cx - size / 2:.1f}' "
                        f"y='{cy - size / 2:.1f}' width='{size:.1f}' height='{size:.1f}' fill='{color}'>"
                        f"<title>{html.escape(label)} frame {f}</title></rect>"
                    )
        x = tl.x_of(frame_idx)
        parts.append(
            f"<rect class='wb-mem-cursor' data-frame='{frame_idx}' x='{x:.1f}' y='0' width='{max(cell, 1):.1f}' "
            f"height='{height}' fill='none' stroke='{CURSOR}'/>"
        )
        parts.append("</svg>")
        return "".join(parts)

    def _details_html(self, trace: MemoryTrace | None, frame_idx: int, obj_id: int) -> str:
        s = self.session
        name = s.objects[obj_id].name if obj_id in s.objects else f"object {obj_id}"
        head = f"frame {frame_idx} · {html.escape(name)} (id {obj_id})"
        untrained = (
            " · <b style='color:#c62828'>UNTRAINED weights: the scores are meaningless, the memory choice is real</b>"
            if s.backend_untrained
            else ""
        )
        if trace is None:
            return (
                f"<div class='wb-memory' data-frame='{frame_idx}' data-obj='{obj_id}'><b>{head}</b>: "
                "no prediction here yet (prompt the object or propagate to this frame).</div>"
            )
        attrs = (
            f"data-frame='{frame_idx}' data-obj='{obj_id}' data-policy='{html.escape(trace.policy)}' "
            f"data-cond='{_frames(trace.cond_frames)}' data-non-cond='{_frames(trace.non_cond_frames)}' "
            f"data-obj-ptr='{_frames(trace.obj_ptr_frames)}'"
        )
        if trace.is_cond_frame and not trace.memory_frames:
            what = "prompted frame: the prediction came from the prompt alone, no memory was attended."
        elif trace.is_cond_frame:
            what = "prompted frame (a correction): the prompt and the memories below."
        else:
            what = "tracked frame: predicted from the memories below."
        lists = "".join(
            f"<li><span style='color:{color}'>■</span> {html.escape(label)}: {_frames(frames) or '—'}</li>"
            for (_, label, color), frames in zip(ROWS, (trace.cond_frames, trace.non_cond_frames, trace.obj_ptr_frames))
        )
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v:.4g}</td></tr>"
            for k, v in trace.policy_scores.items()
        )
        table = (
            f"<table class='wb-memory-scores' style='font-size:12px'><tr><th>score</th><th>value</th></tr>{rows}</table>"
            if rows
            else ""
        )
        return (
            f"<div class='wb-memory' {attrs}><b>{head}</b> · policy <b>{html.escape(trace.policy)}</b>{untrained}"
            f"<br>{what}<ul style='margin:2px 0'>{lists}</ul>{table}</div>"
        )


__all__ = ["MemoryPanel"]
