"""Notebook widgets on top of the sessions.

:class:`PromptCanvas` (:mod:`.canvas`) is the click-to-prompt image widget (clicks, boxes,
candidates, segment everything) on an :class:`~workbench.sessions.ImageSession` or one frame of a
:class:`~workbench.sessions.VideoSession`; :class:`VideoAnnotator` (:mod:`.video`) prompts, tracks
and exports objects through a video. :class:`MetricDashboard` (:mod:`.dashboard`) compares run
folders with plotly. :mod:`.headless` drives canvas widgets without a browser (tests);
:mod:`.canvas.coords` documents and converts the coordinate systems; :mod:`.demo` holds the
demo-notebook helpers; :mod:`.bench` the widget parts of ``workbench bench``.

Layering: widgets -> sessions -> backends -> types (and widgets -> runners for the dashboard).
Widgets talk to sessions (they never call a backend's ``predict`` / ``generate_masks``).
Nothing in the package imports this layer except the application layer :mod:`workbench.cli`
(the ``workbench`` command, which plugs the widget parts of :mod:`.bench` into
``workbench bench``); the widgets import nothing above them (not :mod:`workbench.bench`).
"""

from ..sessions import MaskableImageSession  # its former home; now an alias of sessions.ImageSession
from .canvas.coords import canvas_to_image, clamp_to_image, client_to_canvas, image_to_canvas, image_to_client
from .canvas.prompt_canvas import KEYS, MODES, PromptCanvas
from .canvas.targets import ImageTarget, VideoFrameTarget, add_mask_object, make_target
from .dashboard import MetricDashboard
from .demo import DemoImage, demo_image, demo_video, simulate_clicks, snapshot
from .headless import DrawCommand, DrawRecorder, click_button, send_key, send_mouse, set_from_frontend
from .video.annotator import FRAME_KEYS, VideoAnnotator
from .video.memory_panel import MemoryPanel
from .video.timeline import TimelineData, TimelineStrip, timeline_data

__all__ = [
    "FRAME_KEYS",
    "KEYS",
    "MODES",
    "DemoImage",
    "DrawCommand",
    "DrawRecorder",
    "ImageTarget",
    "MaskableImageSession",
    "MemoryPanel",
    "MetricDashboard",
    "PromptCanvas",
    "TimelineData",
    "TimelineStrip",
    "VideoAnnotator",
    "VideoFrameTarget",
    "add_mask_object",
    "canvas_to_image",
    "clamp_to_image",
    "click_button",
    "client_to_canvas",
    "demo_image",
    "demo_video",
    "image_to_canvas",
    "image_to_client",
    "make_target",
    "send_key",
    "send_mouse",
    "set_from_frontend",
    "simulate_clicks",
    "snapshot",
    "timeline_data",
]
