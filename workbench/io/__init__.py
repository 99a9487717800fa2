"""Reading and writing images, masks, videos and datasets (numpy + OpenCV/Pillow/PyAV)."""
from .images import read_image, read_mask, read_palette_mask, write_palette_mask, DAVIS_PALETTE
from .frames import FrameSource

__all__ = ["read_image", "read_mask", "read_palette_mask", "write_palette_mask", "DAVIS_PALETTE", "FrameSource"]
