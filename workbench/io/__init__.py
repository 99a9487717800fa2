"""Reading and writing images, masks, videos and datasets (numpy + OpenCV/Pillow/PyAV)."""

from .frames import FrameSource
from .images import DAVIS_PALETTE, read_image, read_mask, read_palette_mask, write_palette_mask

__all__ = ["DAVIS_PALETTE", "FrameSource", "read_image", "read_mask", "read_palette_mask", "write_palette_mask"]
