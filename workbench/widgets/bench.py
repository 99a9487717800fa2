"""The widget parts of ``workbench bench``: clicks through a PromptCanvas (the ``widget``
section) and the widget's palette-PNG overlay encoder (timed in the ``click`` section).

Plain functions on a session: this module does not import the benchmark core
(:mod:`workbench.bench`), and the core does not import the widgets. The ``workbench bench``
command (:func:`workbench.cli.bench_sections`, the application layer) hands them to the core's
``bench_click(overlay=...)`` and ``bench_widget(timings=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..sessions import ImageSession
from .canvas.draw import compose_overlay, encode_index_png
from .canvas.prompt_canvas import PromptCanvas
from .headless import send_mouse


def overlay_encoder() -> tuple[str, Callable[[list, list], bytes]]:
    """``(name, encode(masks, colors) -> bytes)``: the masks as the canvas sends them (one
    palette PNG, :func:`~workbench.widgets.canvas.draw.compose_overlay` +
    :func:`~workbench.widgets.canvas.draw.encode_index_png`)."""

    def encode(masks, colors):
        index, palette = compose_overlay(masks, colors, masks[0].shape)
        return encode_index_png(index, palette)

    return "widgets.canvas.draw palette PNG", encode


def canvas_click_timings(
    session: ImageSession, clicks_xy: Sequence[tuple[int, int]], n_clicks: int, warmup: bool
) -> dict:
    """Click ``n_clicks`` times (one more, not counted, with ``warmup``) through a synchronous
    :class:`PromptCanvas` on ``session``, cycling through ``clicks_xy`` (image pixels), as the
    browser's ``mouse_down`` message; each click is undone before the next.

    Returns
    -------
    dict
        ``overhead_ms`` (the canvas' ``last_overhead_ms`` per click: event handling plus
        redraw, model excluded) and ``wall_minus_session_ms`` (wall time of the message minus
        the session call), lists of float; or ``{"failed": repr(error)}`` when a click failed.
    """
    pc = PromptCanvas(session, sync=True, everything=False)
    over, e2e = [], []
    for i in range(n_clicks + (1 if warmup else 0)):
        x, y = clicks_xy[i % len(clicks_xy)]
        t0 = time.perf_counter()
        send_mouse(pc.canvas, "mouse_down", x + 0.5, y + 0.5)
        wall = (time.perf_counter() - t0) * 1000.0
        if pc.last_error is not None:
            return {"failed": repr(pc.last_error)}
        if i or not warmup:
            over.append(float(pc.last_overhead_ms))
            e2e.append(wall - float(pc.last_timings.get("session", 0.0)))
        session.undo()
    return {"overhead_ms": over, "wall_minus_session_ms": e2e}


__all__ = ["canvas_click_timings", "overlay_encoder"]
