"""The video annotation widget and its parts.

:mod:`.annotator` (:class:`VideoAnnotator`: scrubber, object list, propagation, exports, in one
class), :mod:`.timeline` (per-object presence / score / J strip), :mod:`.inputs` (first frames of
a video, ground-truth id maps, display names).
"""

from .annotator import FRAME_KEYS, VideoAnnotator
from .timeline import TimelineData, TimelineStrip, timeline_data

__all__ = ["FRAME_KEYS", "TimelineData", "TimelineStrip", "VideoAnnotator", "timeline_data"]
