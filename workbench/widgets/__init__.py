"""Notebook widgets on top of the sessions (nothing else in the package imports this layer).

:class:`PromptCanvas` is the click-to-prompt image widget (clicks, boxes, candidates, segment
everything) on an :class:`~workbench.sessions.ImageSession` or one frame of a
:class:`~workbench.sessions.VideoSession`. :class:`MetricDashboard` compares run folders with plotly. :mod:`.headless` drives canvas widgets without a
browser (tests); :mod:`.coords` documents and converts the coordinate systems.
"""
from .coords import (
           canvas_to_image,
           clamp_to_image,
           client_to_canvas,
           image_to_canvas,
           image_to_client,
)
from .dashboard import MetricDashboard
from .headless import (
           DrawCommand,
           DrawRecorder,
           click_button,
           send_key,
           send_mouse,
           set_from_frontend,
)
from .mask_session import MaskableImageSession, add_mask_object
from .prompt_canvas import KEYS, MODES, PromptCanvas
from .targets import ImageTarget, VideoFrameTarget, make_target

__all__ = ["DrawCommand", "DrawRecorder", "ImageTarget", "KEYS", "MODES", "MaskableImageSession", "MetricDashboard", "PromptCanvas",
           "VideoFrameTarget", "add_mask_object", "canvas_to_image", "clamp_to_image", "click_button",
           "client_to_canvas", "image_to_canvas", "image_to_client", "make_target", "send_key", "send_mouse",
           "set_from_frontend"]

# video annotation (VideoAnnotator, timeline strip, demo-notebook helpers)
from .demo import DemoImage, demo_image, demo_video, simulate_clicks, snapshot  # noqa: E402
from .timeline import TimelineData, TimelineStrip, timeline_data  # noqa: E402
from .video_annotator import FRAME_KEYS, VideoAnnotator  # noqa: E402

__all__ += ["DemoImage", "FRAME_KEYS", "TimelineData", "TimelineStrip", "VideoAnnotator", "demo_image", "demo_video",
            "simulate_clicks", "snapshot", "timeline_data"]
