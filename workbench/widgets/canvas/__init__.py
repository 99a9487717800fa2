"""The image / frame prompting widget and its parts.

:mod:`.prompt_canvas` (:class:`PromptCanvas`: controls, browser events and drawing in one
class), :mod:`.targets` (the image / video-frame adapters it prompts through, session calls
only), :mod:`.draw` (palette-PNG mask layers, prompt markers), :mod:`.coords` (coordinate
systems), :mod:`.candidates` (candidate strip), :mod:`.everything` (segment-everything panel).
"""

from .coords import canvas_to_image, clamp_to_image, client_to_canvas, image_to_canvas, image_to_client
from .prompt_canvas import KEYS, MODES, PromptCanvas, sync_object_selector
from .targets import ImageTarget, VideoFrameTarget, add_mask_object, make_target

__all__ = [
    "KEYS",
    "MODES",
    "ImageTarget",
    "PromptCanvas",
    "VideoFrameTarget",
    "add_mask_object",
    "canvas_to_image",
    "clamp_to_image",
    "client_to_canvas",
    "image_to_canvas",
    "image_to_client",
    "make_target",
    "sync_object_selector",
]
