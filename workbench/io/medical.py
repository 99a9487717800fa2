"""Medical data: modality labels, CT organ slices, nuclei instances and 3-D MRI volumes.

The 2-D single-object medical sets (``hc18_ultrasound``, ``ph2_dermoscopy``, ``drive_retina``,
``kvasir_polyp``, ``cxr_lungs``, ``pyradiomics_mri``) are ordinary image sets
(:func:`workbench.io.datasets.load_image_set`). This module adds the sets whose ground truth
holds several objects per image, split into one :class:`~workbench.io.datasets.ImageItem` per
object so every object is prompted and scored on its own, and the 3-D volumes:

* ``sammed2d_ct`` — CT slices with one mask file per structure, as in SAM-Med2D's
  ``data_demo`` (Cheng et al., "SAM-Med2D", arXiv 2308.16184, which prompts and scores each
  structure mask separately): :func:`load_ct_structures`.
* ``stardist_nuclei`` — a fluorescence image with an instance-id map (StarDist's bundled test
  image; Schmidt et al., MICCAI 2018): :func:`load_nuclei_instances`, one item per nucleus.
* ``mri_volumes`` — NIfTI brain MRI volumes with a tumour label volume: :func:`load_volumes`,
  :class:`VolumeItem`, and :func:`volume_to_frames`, which turns a volume into the "video" of
  slices that SAM 2's video predictor propagates through (as MedSAM2 / SAM 2 medical studies
  do, survey §5).

Layouts are those of ``$WORKBENCH_DATA_DIR`` described in the data README. Arrays are indexed
**row, column** (and slice first for volumes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError, DatasetNotFoundError, UnknownNameError
from .datasets import IMAGE_SETS, ImageItem, _resolve_root, _take, load_image_set
from .images import read_image

if TYPE_CHECKING:
    from nibabel.spatialimages import SpatialImage

MODALITIES: dict[str, str] = {
    "hc18_ultrasound": "ultrasound",
    "ph2_dermoscopy": "dermoscopy",
    "drive_retina": "retina (fundus)",
    "kvasir_polyp": "endoscopy (polyps)",
    "cxr_lungs": "X-ray",
    "sammed2d_ct": "CT",
    "stardist_nuclei": "fluorescence microscopy (nuclei)",
    "pyradiomics_mri": "MRI",
    "mri_volumes": "MRI",
}
"""Medical set name -> imaging modality label (for tables grouped by modality)."""

CT_DIR = "medical/sammed2d_ct"
NUCLEI_DIR = "medical/stardist_nuclei"
VOLUMES_DIR = "medical/mri_volumes"
NUCLEI_MIN_AREA = 10
"""Default smallest nucleus kept, in pixels (the bundled image's smallest instance has 25)."""
DEFAULT_PERCENTILES = (0.5, 99.5)
"""Default intensity window of :func:`volume_to_frames`: these percentiles of the volume."""

_CT_MASK = re.compile(r"^(?P<structure>.+)_(?P<k>\d+)$")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _folder(root: str | Path | None, rel: str, what: str, expect: str) -> Path:
    folder = _resolve_root(root) / rel
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"{what} not found at {folder} (expected {expect}). Point WORKBENCH_DATA_DIR (or root=) at the "
            "data folder described in the data README."
        )
    return folder


# --------------------------------------------------------------------------------------------
# CT organ slices (SAM-Med2D data_demo)
# --------------------------------------------------------------------------------------------
def load_ct_structures(root: str | Path | None = None, subset: int | list[str] | None = None) -> list[ImageItem]:
    """One item per (CT slice, structure mask) of ``medical/sammed2d_ct``.

    Mask files are named ``masks/<slice>_<structure>_<k>.png`` (0/255, one structure per file,
    ``k`` numbers the connected parts SAM-Med2D stores separately, e.g. ``hip_left_000`` and
    ``hip_left_001``); ``<slice>`` is the stem of an image in ``images/`` and may itself hold
    underscores (``amos_0004_75``), so it is matched against the image stems (longest first)
    rather than split on ``_``.

    Parameters
    ----------
    root : path, optional
        Data root; default ``$WORKBENCH_DATA_DIR``.
    subset : int or list of str, optional
        First N items, or explicit ``item_id`` values.

    Returns
    -------
    list of ImageItem
        ``dataset="sammed2d_ct"``, ``item_id="<slice>/<structure>_<k>"`` (e.g.
        ``"amos_0004_75/liver_000"``), sorted by slice then structure. ``load()`` gives the RGB
        slice and that structure's mask.

    Raises
    ------
    DatasetNotFoundError
        Folder, ``images/`` or ``masks/`` missing, or no mask at all.
    DataError
        A mask name does not start with an image stem or does not end in ``_<k>``.
    """
    folder = _folder(root, CT_DIR, "The CT structure set (sammed2d_ct)", "images/<slice>.png and masks/")
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise DatasetNotFoundError(f"{folder} must hold images/ and masks/ folders.")
    images = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES}
    stems = sorted(images, key=len, reverse=True)  # longest first: "a_1" before "a"
    items = []
    for mask in sorted(masks_dir.glob("*.png")):
        slice_id = next((s for s in stems if mask.stem.startswith(s + "_")), None)
        if slice_id is None:
            raise DataError(
                f"CT mask {mask.name} matches no image in {images_dir}; name masks "
                f"<slice>_<structure>_<k>.png with <slice> one of: {', '.join(sorted(images)) or '(no images)'}."
            )
        rest = mask.stem[len(slice_id) + 1 :]
        m = _CT_MASK.match(rest)
        if m is None:
            raise DataError(
                f"CT mask {mask.name}: {rest!r} is not <structure>_<k> (k an integer such as 000); rename it."
            )
        items.append(ImageItem("sammed2d_ct", f"{slice_id}/{rest}", images[slice_id], mask, "binary"))
    if not items:
        raise DatasetNotFoundError(f"No structure mask (*.png) in {masks_dir}.")
    items.sort(key=lambda it: it.item_id)
    return _take(items, subset, "sammed2d_ct")


def ct_structure(item: ImageItem) -> tuple[str, str, int]:
    """Split a CT item's id into ``(slice, structure, k)``, e.g. ``("s0619_32", "hip_left", 1)``."""
    slice_id, rest = item.item_id.split("/", 1)
    m = _CT_MASK.match(rest)
    if m is None:
        raise DataError(f"CT item id {item.item_id!r} does not end in <structure>_<k>.")
    return slice_id, m.group("structure"), int(m.group("k"))


# --------------------------------------------------------------------------------------------
# nuclei instances (StarDist test image)
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _read_label_map(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetNotFoundError(f"Instance label map not found: {path}.")
    try:
        with Image.open(path) as img:
            img.load()
            arr = np.array(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"Cannot decode instance label map {path}: {exc}. Save it as a 2-D integer TIFF.") from exc
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise DataError(
            f"{path} must be a 2-D integer instance-id map (0 = background); got shape {arr.shape} dtype {arr.dtype}."
        )
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class InstanceItem(ImageItem):
    """One instance of an instance-id map, as a single-object :class:`ImageItem`.

    ``mask_path`` is the id map (e.g. uint16 TIFF); ``load()`` returns the image, the mask
    ``ids == instance_id`` and an empty ignore mask (other instances are background).
    """

    instance_id: int = 0

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``image`` (H, W, 3) uint8 RGB, ``gt`` (H, W) bool, ``ignore`` (H, W) bool.

        Raises
        ------
        DataError
            Sizes differ, or the instance id is absent from the map.
        """
        if self.image_path is None or self.mask_path is None:
            raise DataError(f"{self.dataset}/{self.item_id}: an instance item needs an image and a label map file.")
        image = read_image(self.image_path)
        gt = _read_label_map(Path(self.mask_path)) == self.instance_id
        if gt.shape != image.shape[:2]:
            raise DataError(
                f"{self.dataset}/{self.item_id}: label map is {gt.shape[1]}x{gt.shape[0]} but image is "
                f"{image.shape[1]}x{image.shape[0]}; they must have the same size."
            )
        if not gt.any():
            raise DataError(f"{self.dataset}/{self.item_id}: instance {self.instance_id} is not in {self.mask_path}.")
        return image, gt, np.zeros(gt.shape, dtype=bool)


def load_nuclei_instances(
    root: str | Path | None = None, min_area: int = NUCLEI_MIN_AREA, subset: int | list[str] | None = None
) -> list[InstanceItem]:
    """One item per nucleus of ``medical/stardist_nuclei`` (many small objects per image).

    The ids are read from the uint16 TIFF ``masks/<name>_labels_uint16.tif`` (Pillow; the
    8-bit-looking ``masks/<name>.png`` holds the same ids), the image is the 8-bit
    percentile-normalised preview ``images/<name>.png``.

    Parameters
    ----------
    root : path, optional
        Data root; default ``$WORKBENCH_DATA_DIR``.
    min_area : int
        Instances with fewer pixels are skipped (too small to prompt); default
        ``NUCLEI_MIN_AREA``.
    subset : int or list of str, optional
        First N items, or explicit ``item_id`` values.

    Returns
    -------
    list of InstanceItem
        ``dataset="stardist_nuclei"``, ``item_id="<name>/<id:04d>"``, sorted by id. An instance
        may consist of several pixel blobs (one id in the map); it stays one object.

    Raises
    ------
    DatasetNotFoundError
        Folder, preview image or label TIFF missing.
    DataError
        Unreadable or non-integer label map, or no instance of ``min_area`` pixels.
    """
    folder = _folder(
        root, NUCLEI_DIR, "The nuclei set (stardist_nuclei)", "images/<name>.png and masks/<name>_labels_uint16.tif"
    )
    items: list[InstanceItem] = []
    labels = sorted((folder / "masks").glob("*_labels_uint16.tif")) if (folder / "masks").is_dir() else []
    if not labels:
        raise DatasetNotFoundError(f"No instance map masks/<name>_labels_uint16.tif under {folder}.")
    for label_path in labels:
        name = label_path.name.removesuffix("_labels_uint16.tif")
        image_path = folder / "images" / f"{name}.png"
        if not image_path.is_file():
            raise DatasetNotFoundError(f"{label_path.name} has no 8-bit preview image {image_path}.")
        ids, counts = np.unique(_read_label_map(label_path), return_counts=True)
        for inst, area in zip(ids.tolist(), counts.tolist()):
            if inst != 0 and area >= min_area:
                items.append(
                    InstanceItem(
                        "stardist_nuclei",
                        f"{name}/{inst:04d}",
                        image_path,
                        label_path,
                        "instance",
                        instance_id=int(inst),
                    )
                )
    if not items:
        raise DataError(f"No nucleus of at least {min_area} pixels in {folder}; lower min_area.")
    return _take(items, subset, "stardist_nuclei")


def load_medical_set(
    name: str, root: str | Path | None = None, subset: int | list[str] | None = None
) -> list[ImageItem]:
    """Items of any 2-D medical set of ``MODALITIES`` (one item per object to prompt).

    Raises
    ------
    UnknownNameError
        ``name`` is not a 2-D medical set (``mri_volumes`` is 3-D: use :func:`load_volumes`).
    """
    if name == "sammed2d_ct":
        return load_ct_structures(root, subset)
    if name == "stardist_nuclei":
        return [*load_nuclei_instances(root, subset=subset)]
    if name in MODALITIES and name in IMAGE_SETS:
        return load_image_set(name, root, subset)
    raise UnknownNameError("2-D medical set", name, [n for n in MODALITIES if n != "mri_volumes"])


# --------------------------------------------------------------------------------------------
# 3-D volumes (NIfTI)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeItem:
    """One NIfTI volume with a binary label volume on the same voxel grid.

    Attributes
    ----------
    id : str
        File stem (``brain1``).
    image_path, mask_path : Path
        ``images/<id>.nii.gz`` (any numeric type) and ``masks/<id>.nii.gz`` (0/1).

    Notes
    -----
    Axes are kept as nibabel gives them, without reorienting to any anatomical convention:
    the last voxel axis (``k``) is the slice axis and becomes the first array axis, so a slice
    ``volume[z]`` has rows = first voxel axis (``i``) and columns = second voxel axis (``j``).
    For the pyradiomics volumes (affine codes L, A, S) rows run towards Left, columns towards
    Anterior, slices towards Superior; the 2-D ``pyradiomics_mri`` PNGs are these slices
    transposed (their columns are the first voxel axis).
    """

    id: str
    image_path: Path
    mask_path: Path

    @property
    def item_id(self) -> str:
        """Same as ``id`` (the name ``ImageItem`` uses)."""
        return self.id

    def load(self) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
        """Read the volume.

        Returns
        -------
        volume : np.ndarray
            ``(Z, H, W)`` float32 intensities (NIfTI scaling applied).
        mask : np.ndarray
            ``(Z, H, W)`` bool, True = labelled structure.
        spacing : tuple of float
            ``(dz, dy, dx)`` voxel size in mm (slice, row, column), from the header zooms.

        Raises
        ------
        DatasetNotFoundError
            A file is missing.
        DataError
            Unreadable file, not 3-D, grids differ, or the mask holds values other than 0/1.
        """
        img = _nifti(self.image_path)
        seg = _nifti(self.mask_path)
        if img.shape != seg.shape or not np.allclose(img.affine, seg.affine, atol=1e-3):
            raise DataError(
                f"Volume {self.id}: image {img.shape} and mask {seg.shape} are not on the same voxel grid "
                "(shape and affine must match); resample the mask onto the image grid."
            )
        volume = np.asarray(img.get_fdata(dtype=np.float32)).transpose(2, 0, 1)
        labels = np.asarray(seg.dataobj)
        values = np.unique(labels)
        if not np.isin(values, (0, 1)).all():
            raise DataError(
                f"Volume {self.id}: mask must hold only 0 and 1; found {values[:8].tolist()}. "
                "Save one binary label volume per structure."
            )
        mask = labels.astype(bool).transpose(2, 0, 1)
        zi, zj, zk = (float(z) for z in img.header.get_zooms()[:3])
        return np.ascontiguousarray(volume), np.ascontiguousarray(mask), (zk, zi, zj)


def _nifti(path: Path) -> SpatialImage:
    import nibabel as nib
    from nibabel.spatialimages import SpatialImage

    if not Path(path).is_file():
        raise DatasetNotFoundError(f"NIfTI file not found: {path}.")
    try:
        img = nib.load(str(path))
    except Exception as exc:  # nibabel raises several unrelated types (ImageFileError, EOFError, zlib …)
        raise DataError(f"Cannot read NIfTI file {path}: {exc}. Re-save it as .nii or .nii.gz.") from exc
    if not isinstance(img, SpatialImage):
        raise DataError(f"{path} is not a NIfTI image volume ({type(img).__name__}).")
    if len(img.shape) != 3:
        raise DataError(f"{path} has shape {img.shape}; a 3-D (X, Y, slices) volume is required.")
    return img


def load_volumes(root: str | Path | None = None, subset: int | list[str] | None = None) -> list[VolumeItem]:
    """Volumes of ``medical/mri_volumes``: ``images/<id>.nii.gz`` with ``masks/<id>.nii.gz``.

    Parameters
    ----------
    root : path, optional
        Data root; default ``$WORKBENCH_DATA_DIR``.
    subset : int or list of str, optional
        First N volumes (sorted by id), or explicit ids.

    Raises
    ------
    DatasetNotFoundError
        Folder missing, or no image with a matching mask.
    """
    folder = _folder(root, VOLUMES_DIR, "The MRI volume set (mri_volumes)", "images/<id>.nii.gz and masks/<id>.nii.gz")
    items: list[VolumeItem] = []
    for suffix in (".nii.gz", ".nii"):
        for img in sorted((folder / "images").glob(f"*{suffix}")) if (folder / "images").is_dir() else []:
            stem = img.name.removesuffix(suffix)
            mask = folder / "masks" / img.name
            if mask.is_file() and stem not in {it.id for it in items}:
                items.append(VolumeItem(stem, img, mask))
    if not items:
        raise DatasetNotFoundError(f"No volume images/<id>.nii.gz with a matching masks/<id>.nii.gz under {folder}.")
    items.sort(key=lambda it: it.id)
    return _take(items, subset, "mri_volumes")


def window_bounds(
    volume: np.ndarray,
    window: tuple[float, float] | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> tuple[float, float]:
    """Intensity window ``(lo, hi)``: ``window`` itself, or ``percentiles`` of the whole volume.

    Raises
    ------
    DataError
        ``window`` is not two finite numbers with ``lo < hi``.
    """
    if window is None:
        lo, hi = np.percentile(np.asarray(volume, dtype=np.float64), percentiles)
        return float(lo), float(hi)
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError) as exc:
        raise DataError(f"window must be (lo, hi) intensities; got {window!r}.") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataError(f"window must be two finite intensities with lo < hi; got ({lo}, {hi}).")
    return lo, hi


def volume_to_frames(
    volume: np.ndarray,
    window: tuple[float, float] | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> list[np.ndarray]:
    """Turn a ``(Z, H, W)`` volume into ``Z`` RGB frames for a video predictor.

    Intensities are windowed linearly, ``255 * clip((v - lo) / (hi - lo), 0, 1)`` rounded, with
    ONE window for the whole volume so a structure keeps its brightness from slice to slice:
    by default ``lo, hi`` are the 0.5 and 99.5 percentiles of all voxels (robust to outliers,
    the normalisation of the pyradiomics 2-D slices); for CT pass a fixed window, e.g.
    ``(-160, 240)`` HU for abdomen. The gray value is repeated in the three channels.

    Parameters
    ----------
    volume : (Z, H, W) array
        Slice-first intensities (as :meth:`VolumeItem.load` returns).
    window : (lo, hi), optional
        Intensity window in the volume's units; default from ``percentiles``.
    percentiles : (float, float)
        Percentiles (0-100) used when ``window`` is None.

    Returns
    -------
    list of np.ndarray
        ``Z`` arrays ``(H, W, 3)`` uint8 RGB. A constant volume gives black frames.

    Raises
    ------
    DataError
        Not a 3-D numeric array, non-finite values, or an invalid ``window``.
    """
    vol = np.asarray(volume)
    if vol.ndim != 3 or vol.dtype.kind not in "biuf" or 0 in vol.shape:
        raise DataError(f"volume must be a non-empty (Z, H, W) numeric array; got shape {vol.shape} dtype {vol.dtype}.")
    vol = vol.astype(np.float32, copy=False)
    if not np.isfinite(vol).all():
        raise DataError("volume holds NaN or infinite values; replace them (np.nan_to_num) before windowing.")
    lo, hi = window_bounds(vol, window, percentiles)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    gray = np.rint(np.clip((vol - lo) * scale, 0.0, 255.0)).astype(np.uint8)
    return [np.repeat(s[..., None], 3, axis=2) for s in gray]


__all__ = [
    "DEFAULT_PERCENTILES",
    "MODALITIES",
    "NUCLEI_MIN_AREA",
    "InstanceItem",
    "VolumeItem",
    "ct_structure",
    "load_ct_structures",
    "load_medical_set",
    "load_nuclei_instances",
    "load_volumes",
    "volume_to_frames",
    "window_bounds",
]
