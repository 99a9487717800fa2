"""The video annotation widget and its parts.

:mod:`.annotator` (:class:`VideoAnnotator`: scrubber, object list, propagation, exports, in one
class), :mod:`.timeline` (per-object presence / score / J strip), :mod:`.memory_panel` (which
memories fed the prediction on the shown frame), :mod:`.inputs` (first frames of a video,
ground-truth id maps, display names).
"""

from .annotator import FRAME_KEYS, VideoAnnotator
from .memory_panel import MemoryPanel
from .timeline import TimelineData, TimelineStrip, timeline_data

__all__ = ["FRAME_KEYS", "MemoryPanel", "TimelineData", "TimelineStrip", "VideoAnnotator", "timeline_data"]
