"""Drive canvas widgets without a browser: send the messages the frontend sends, read back the
draw commands the kernel sends.

Incoming (browser -> kernel), ipycanvas 0.14 ``CanvasView``: a custom comm message whose content
is ``{"event": "mouse_down" | "mouse_move" | "mouse_up" | "mouse_out", "x": float, "y": float}``
(canvas pixels, see :mod:`.coords`) or ``{"event": "key_down", "key": str, "shift_key": bool,
"ctrl_key": bool, "meta_key": bool}``. A ``MultiCanvas`` forwards its messages to its top layer.
:func:`send_mouse` / :func:`send_key` call ``widget._handle_custom_msg(content, buffers)``, the
entry point ipywidgets uses for ``method == "custom"`` comm messages.

Outgoing (kernel -> browser): ipycanvas' global ``_CanvasManager`` sends ``send(metadata,
buffers)`` where ``buffers[0]`` is the JSON of one command ``[cmd, args, n_buffers]`` or of a
batch (``hold_canvas``) of them, ``[switchCanvas, ["IPY_MODEL_<id>"]]`` selecting the canvas the
following commands draw on, and ``buffers[1:]`` are the binary payloads consumed in order
(``putImageData``: the encoded image; ``fillCircles``: numpy arrays described by
``{"shape", "dtype", "idx"}`` arguments). :class:`DrawRecorder` captures and decodes them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ipycanvas.canvas import _CANVAS_MANAGER, _CMD_LIST


@dataclass
class DrawCommand:
    """One decoded draw command.

    Attributes
    ----------
    canvas_id : str
        ``model_id`` of the ``ipycanvas.Canvas`` (layer) it draws on.
    name : str
        ipycanvas command name (``"putImageData"``, ``"fillCircles"``, ``"clear"``, ``"set"``, ...).
    args : list
        JSON arguments; array arguments are replaced by numpy arrays.
    buffers : list of bytes
        Binary payloads of the command (e.g. the PNG of ``putImageData``).
    """

    canvas_id: str
    name: str
    args: list
    buffers: list = field(default_factory=list, repr=False)

    def image(self) -> np.ndarray:
        """``putImageData`` only: the payload decoded to an (H, W, 4) uint8 RGBA array."""
        from PIL import Image

        return np.array(Image.open(io.BytesIO(self.buffers[0])).convert("RGBA"))


def _decode_args(args: list, buffers: list) -> list:
    out = []
    for a in args:
        if isinstance(a, dict) and {"shape", "dtype", "idx"} <= set(a):
            out.append(np.frombuffer(buffers[a["idx"]], dtype=a["dtype"]).reshape(a["shape"]))
        else:
            out.append(a)
    return out


def decode_message(buffers: list, current: str | None = None) -> tuple[list[DrawCommand], str | None]:
    """Decode the buffers of one ``_CanvasManager.send``; returns the commands and the canvas
    selected at the end (pass it to the next call: switches are sent only on change)."""
    data = json.loads(bytes(buffers[0]))
    batch = data if data and isinstance(data[0], list) else [data]
    rest = [bytes(b) for b in buffers[1:]]
    out: list[DrawCommand] = []
    for cmd in batch:
        name = _CMD_LIST[cmd[0]]
        args = cmd[1] if len(cmd) > 1 else []
        n = cmd[2] if len(cmd) > 2 else 0
        mine, rest = rest[:n], rest[n:]
        if name == "switchCanvas":
            current = str(args[0]).removeprefix("IPY_MODEL_")
            continue
        out.append(DrawCommand(current or "", name, _decode_args(args, mine), mine))
    return out, current


class DrawRecorder:
    """Record every draw command ipycanvas sends while active (a context manager).

    Example
    -------
    >>> with DrawRecorder() as rec:                                   # doctest: +SKIP
    ...     send_mouse(pc.canvas, "mouse_down", 120.5, 80.5)
    >>> rec.last("putImageData", pc.mask_layer).image()               # doctest: +SKIP
    """

    def __init__(self, manager=None):
        self.manager = manager if manager is not None else _CANVAS_MANAGER
        self.commands: list[DrawCommand] = []
        self.messages = 0
        self._current: str | None = None
        self._orig: Callable[..., Any] | None = None  # the manager's send while recording

    def __enter__(self) -> DrawRecorder:
        self._had_attr = "send" in vars(self.manager)
        self._orig = orig = self.manager.send
        # the manager may already have a canvas selected: force a switch on the next command
        self.manager._current_canvas = None

        def send(content, buffers=None):
            cmds, self._current = decode_message(list(buffers or []), self._current)
            self.commands.extend(cmds)
            self.messages += 1
            return orig(content, buffers=buffers)

        self.manager.send = send
        return self

    def __exit__(self, *exc) -> None:
        if self._orig is None:
            return
        if self._had_attr:
            self.manager.send = self._orig
        else:
            del self.manager.send  # back to the class method
        self._orig = None

    def on(self, layer) -> list[DrawCommand]:
        """Commands that drew on ``layer`` (an ``ipycanvas.Canvas``)."""
        return [c for c in self.commands if c.canvas_id == layer.model_id]

    def last(self, name: str, layer=None) -> DrawCommand | None:
        """The last command called ``name`` (on ``layer`` if given), or None."""
        cmds = self.commands if layer is None else self.on(layer)
        for c in reversed(cmds):
            if c.name == name:
                return c
        return None

    def clear(self) -> None:
        self.commands.clear()
        self.messages = 0


def send_mouse(widget, event: str, x: float, y: float) -> None:
    """Deliver a browser mouse message (``"mouse_down"``, ``"mouse_move"``, ``"mouse_up"``,
    ``"mouse_out"``) at canvas pixel ``(x, y)`` to an ipycanvas ``Canvas`` / ``MultiCanvas``."""
    widget._handle_custom_msg({"event": event, "x": float(x), "y": float(y)}, [])


def send_key(widget, key: str, shift: bool = False, ctrl: bool = False, meta: bool = False) -> None:
    """Deliver a browser ``keydown`` message (``key`` as ``KeyboardEvent.key``: ``"p"``,
    ``"Escape"``, ...) to an ipycanvas ``Canvas`` / ``MultiCanvas``."""
    widget._handle_custom_msg(
        {"event": "key_down", "key": key, "shift_key": bool(shift), "ctrl_key": bool(ctrl), "meta_key": bool(meta)}, []
    )


def click_button(button) -> None:
    """Deliver a browser click to an ``ipywidgets.Button`` (its ``{"event": "click"}`` message)."""
    button._handle_custom_msg({"event": "click"}, [])


def set_from_frontend(widget, **state) -> None:
    """Apply a state update the way a browser edit arrives (``set_state``), e.g.
    ``set_from_frontend(toggle_buttons, index=2)`` or ``set_from_frontend(slider, value=0.7)``."""
    widget.set_state(state)


__all__ = [
    "DrawCommand",
    "DrawRecorder",
    "click_button",
    "decode_message",
    "send_key",
    "send_mouse",
    "set_from_frontend",
]
