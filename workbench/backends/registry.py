"""The official checkpoints of every model backend: names, configs, files, URLs, download.

One table of :class:`ModelSpec` for all backends that load weights: ``"sam2"`` (SAM 2, SAM 2.1
and MedSAM2, a SAM 2.1 fine-tune), ``"sam"`` (SAM v1) and ``"transformers"`` (SAM 2 / 2.1,
EdgeTAM, SAM 3 tracker and SAM 3 through Hugging Face ``transformers``, loaded from a local
model folder in the Hugging Face layout); each spec says its :attr:`ModelSpec.backend`. One set of
functions takes that backend as a parameter (default ``"sam2"``, the workbench's main model):
:func:`get_spec`, :func:`list_specs`, :func:`resolve_checkpoint`, :func:`available_models`,
:func:`checkpoint_table`, :func:`download_checkpoint`. Each backend has its own aliases
(``"tiny"``, ``"b+"`` for SAM 2; ``"vit_b"``, ``"huge"`` for SAM), so a name is always looked
up among one backend's models.

No torch import here: the CLI (``workbench checkpoints list/download``) and the backend
chooser use this module without loading torch.

Sources: SAM 2, the checkpoint table and download script of the reference implementation
(https://github.com/facebookresearch/sam2, ``README.md`` and ``checkpoints/download_ckpts.sh``)
and the config names of ``sam2.build_sam.HF_MODEL_ID_TO_FILENAMES`` (sam2 1.1.0); SAM v1, the
"Model Checkpoints" section of https://github.com/facebookresearch/segment-anything (README.md);
MedSAM2, https://github.com/bowang-lab/MedSAM2 (``checkpoints/download_medsam2_models.py``: the
file ``MedSAM2_latest.pt`` of the Hugging Face repository ``wanglab/MedSAM2``; its config
``sam2/configs/sam2.1_hiera_t512.yaml`` is SAM 2.1 tiny at 512 px, differing from
``sam2.1_hiera_t.yaml`` only in ``image_size`` and the memory attention's RoPE feature sizes, which
sam2 derives from the input size anyway); the ``transformers`` models, the model ids their
``transformers`` classes document (``facebook/sam2.1-hiera-tiny`` …, ``yonigozlan/EdgeTAM-hf``,
``facebook/sam3``).
Meta publishes no checksums; the sizes and SHA-256 digests in :data:`OFFICIAL_FILES` are those
stated by public projects that pin the official files (sources at the table). Downloads from
the official URL are checked against them; :func:`verify_checkpoints` checks files on disk.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import CHECKPOINT_DIR_ENV
from ..config import checkpoint_dir as _default_checkpoint_dir
from ..errors import CheckpointNotFoundError, DownloadError, UnknownNameError

MODEL_BACKENDS = ("sam2", "sam", "transformers")
"""Backends whose models have official checkpoints (``ModelSpec.backend`` values)."""
DEFAULT_BACKEND = "sam2"
FAMILIES = ("sam2", "sam2.1", "medsam2")
"""Releases of the ``"sam2"`` backend (``ModelSpec.family``; SAM v1 specs have family ``"sam"``,
``transformers`` specs the family of the model they load: ``"sam2"``, ``"sam2.1"``,
``"edgetam"``, ``"sam3"``)."""
HF_ARCHITECTURES = ("sam2", "edgetam", "sam3_tracker", "sam3")
"""Model architectures of the ``"transformers"`` backend (:attr:`ModelSpec.architecture`):
``Sam2Model`` / ``Sam2VideoModel``, ``EdgeTamModel`` / ``EdgeTamVideoModel``,
``Sam3TrackerModel`` / ``Sam3TrackerVideoModel`` (points, boxes, masks), and ``Sam3Model`` /
``Sam3VideoModel`` (text concept prompts)."""
SIZES = ("tiny", "small", "base_plus", "large")
"""Hiera sizes of the ``"sam2"`` backend."""
SAM_MODELS = ("vit_b", "vit_l", "vit_h")
"""Model types of the ``"sam"`` backend (``segment_anything.sam_model_registry``)."""
DEFAULT_MODEL = "sam2.1_hiera_tiny"


@dataclass(frozen=True)
class ModelSpec:
    """One official checkpoint of a model backend.

    Attributes
    ----------
    name : str
        Registry name, unique over all backends: ``"sam2.1_hiera_tiny"`` (SAM 2: the file name
        without ``.pt``), ``"sam_vit_b"`` (SAM).
    backend : {"sam2", "sam", "transformers"}
        The backend that loads it (``make_image_backend(backend, model=...)``).
    family : {"sam2", "sam2.1", "medsam2", "sam", "edgetam", "sam3"}
        Release: SAM 2 (July 2024), SAM 2.1 (September 2024), MedSAM2 (April 2025), SAM v1
        (April 2023), EdgeTAM (2025), SAM 3 (November 2025).
    size : str
        SAM 2: Hiera image-encoder size (``"tiny"``, ``"small"``, ``"base_plus"``, ``"large"``);
        SAM: the model type (``"vit_b"``, ``"vit_l"``, ``"vit_h"``).
    config : str
        SAM 2: Hydra config name resolved inside the ``sam2`` package, e.g.
        ``"configs/sam2.1/sam2.1_hiera_t.yaml"``; SAM: the model type; transformers: the official
        SAM 2 config of the same model for SAM 2 (what untrained models and
        :func:`workbench.backends.transformers.convert.convert_sam2_checkpoint` build), else the
        ``transformers`` model type (``"edgetam_video"``, ``"sam3_tracker_video"``, ``"sam3_video"``).
    filename : str
        Official checkpoint file name, e.g. ``"sam2.1_hiera_tiny.pt"``, ``"sam_vit_b_01ec64.pth"``;
        transformers: the model folder, relative to the checkpoint directory, named by the
        Hugging Face model id (``"facebook/sam2.1-hiera-tiny"``), holding ``config.json`` and
        ``model.safetensors``.
    url : str
        Official download URL (``dl.fbaipublicfiles.com``; MedSAM2 and transformers models:
        ``huggingface.co``).
    size_bytes : int or None
        Official file size in bytes (:data:`OFFICIAL_FILES`); None when not known (then only
        ``Content-Length`` is checked).
    sha256 : str or None
        Official SHA-256 hex digest (:data:`OFFICIAL_FILES`); None when not known.
    """

    name: str
    backend: str
    family: str
    size: str
    config: str
    filename: str
    url: str
    size_bytes: int | None = None
    sha256: str | None = None
    image_size: int = 1024
    architecture: str | None = None

    @property
    def weights_file(self) -> str:
        """The file holding the weights, relative to the checkpoint directory: the checkpoint
        file, or ``model.safetensors`` in a transformers model folder."""
        return f"{self.filename}/model.safetensors" if self.backend == "transformers" else self.filename

    @property
    def factory_name(self) -> str:
        """The ``model`` name the backend's factory documents and :func:`available_models`
        lists: the registry name for SAM 2 (``"sam2.1_hiera_tiny"``), the model type for SAM
        (``"vit_b"``)."""
        return self.size if self.backend == "sam" else self.name


# Official file sizes (bytes) and SHA-256 digests, by file name. Meta publishes none, so every
# value is one stated in public sources that pin the official dl.fbaipublicfiles.com files and
# agrees across at least two independent ones (found with a code search, 2025):
# * SHA-256 of SAM 2 / SAM 2.1: computational-cell-analytics/micro-sam, micro_sam/v2/util.py
#   (``HASHES``, verified with pooch on download); SAM v1: the same repository,
#   micro_sam/util.py (``MODELS`` pooch registry). Each digest also appears in other projects'
#   download manifests and checksum scripts (e.g. a 3D Slicer extension's SAM 2 downloader).
# * Sizes: download manifests giving byte counts for all eight SAM 2/2.1 files (one shell
#   script's EXPECTED_SIZE table; others per file), a wget log showing the server's
#   ``Content-Length: 155906050`` for sam2_hiera_tiny.pt, and several manifests giving the
#   three SAM v1 sizes next to the digests above.
OFFICIAL_FILES: dict[str, tuple[int, str]] = {
    "sam2.1_hiera_tiny.pt": (156008466, "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69"),
    "sam2.1_hiera_small.pt": (184416285, "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38"),
    "sam2.1_hiera_base_plus.pt": (323606802, "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5"),
    "sam2.1_hiera_large.pt": (898083611, "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318"),
    "sam2_hiera_tiny.pt": (155906050, "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125"),
    "sam2_hiera_small.pt": (184309650, "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3"),
    "sam2_hiera_base_plus.pt": (323493298, "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"),
    "sam2_hiera_large.pt": (897952466, "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b"),
    "sam_vit_b_01ec64.pth": (375042383, "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912"),
    "sam_vit_l_0b3195.pth": (1249524607, "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622"),
    "sam_vit_h_4b8939.pth": (2564550879, "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e"),
}
"""File name → (size in bytes, SHA-256 hex) of the official checkpoints (see the sources above)."""

_URL_BASE = {
    "sam2": "https://dl.fbaipublicfiles.com/segment_anything_2/072824/",
    "sam2.1": "https://dl.fbaipublicfiles.com/segment_anything_2/092824/",
}
_CONFIG_LETTER = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


def _make_spec(family: str, size: str) -> ModelSpec:
    name = f"{family}_hiera_{size}"
    size_bytes, sha256 = OFFICIAL_FILES.get(f"{name}.pt", (None, None))
    return ModelSpec(
        name=name,
        backend="sam2",
        family=family,
        size=size,
        config=f"configs/{family}/{family}_hiera_{_CONFIG_LETTER[size]}.yaml",
        filename=f"{name}.pt",
        url=_URL_BASE[family] + f"{name}.pt",
        size_bytes=size_bytes,
        sha256=sha256,
    )


_SAM_URL_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
_SAM_FILES = {"vit_b": "sam_vit_b_01ec64.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_h": "sam_vit_h_4b8939.pth"}


def _make_sam_spec(model_type: str) -> ModelSpec:
    f = _SAM_FILES[model_type]
    return ModelSpec(
        name=f"sam_{model_type}",
        backend="sam",
        family="sam",
        size=model_type,
        config=model_type,
        filename=f,
        url=_SAM_URL_BASE + f,
        size_bytes=OFFICIAL_FILES[f][0],
        sha256=OFFICIAL_FILES[f][1],
    )


MEDSAM2 = ModelSpec(
    name="medsam2_latest",
    backend="sam2",
    family="medsam2",
    size="tiny",
    config="configs/sam2.1/sam2.1_hiera_t.yaml",
    filename="MedSAM2_latest.pt",
    url="https://huggingface.co/wanglab/MedSAM2/resolve/main/MedSAM2_latest.pt",
    image_size=512,
)
"""MedSAM2 (Ma et al. 2025, bowang-lab/MedSAM2): SAM 2.1 tiny fine-tuned on 3D medical images and
videos, 512-pixel input; no published checksum."""

_HF_SIZE = {"tiny": "tiny", "small": "small", "base_plus": "base-plus", "large": "large"}


def _make_hf_sam2_spec(family: str, size: str) -> ModelSpec:
    model_id = f"facebook/{family}-hiera-{_HF_SIZE[size]}"
    return ModelSpec(
        name=f"hf_{family}_hiera_{size}",
        backend="transformers",
        family=family,
        size=size,
        config=f"configs/{family}/{family}_hiera_{_CONFIG_LETTER[size]}.yaml",
        filename=model_id,
        url=f"https://huggingface.co/{model_id}",
        architecture="sam2",
    )


_HF_OTHER = [
    ModelSpec(
        name="hf_edgetam",
        backend="transformers",
        family="edgetam",
        size="repvit_m1",
        config="edgetam_video",
        filename="yonigozlan/EdgeTAM-hf",
        url="https://huggingface.co/yonigozlan/EdgeTAM-hf",
        architecture="edgetam",
    ),
    ModelSpec(
        name="hf_sam3_tracker",
        backend="transformers",
        family="sam3",
        size="vit_l",
        config="sam3_tracker_video",
        filename="facebook/sam3",
        url="https://huggingface.co/facebook/sam3",
        image_size=1008,
        architecture="sam3_tracker",
    ),
    ModelSpec(
        name="hf_sam3",
        backend="transformers",
        family="sam3",
        size="vit_l",
        config="sam3_video",
        filename="facebook/sam3",
        url="https://huggingface.co/facebook/sam3",
        image_size=1008,
        architecture="sam3",
    ),
]

# SAM 2.1 first (recommended by the authors), small to large within a family; then MedSAM2,
# SAM v1 and the transformers models.
_SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        *(_make_spec(f, z) for f in ("sam2.1", "sam2") for z in SIZES),
        MEDSAM2,
        *(_make_sam_spec(t) for t in SAM_MODELS),
        *(_make_hf_sam2_spec(f, z) for f in ("sam2.1", "sam2") for z in SIZES),
        *_HF_OTHER,
    ]
}
"""Every official checkpoint by registry name (names are unique over all backends)."""

# -- names and aliases, per backend ------------------------------------------------------------------
_SIZE_ALIASES = {
    "t": "tiny",
    "tiny": "tiny",
    "s": "small",
    "small": "small",
    "b+": "base_plus",
    "base+": "base_plus",
    "base_plus": "base_plus",
    "baseplus": "base_plus",
    "bplus": "base_plus",
    "b_plus": "base_plus",
    "l": "large",
    "large": "large",
}

_SAM_ALIASES = {
    "b": "vit_b",
    "base": "vit_b",
    "vit_b": "vit_b",
    "l": "vit_l",
    "large": "vit_l",
    "vit_l": "vit_l",
    "h": "vit_h",
    "huge": "vit_h",
    "vit_h": "vit_h",
    "default": "vit_h",  # "default" is vit_h upstream
}


def _normalise(name: str) -> str:
    key = name.strip().lower()
    key = re.sub(r"^facebook/", "", key)  # Hugging Face model ids
    key = re.sub(r"\.(pt|yaml)$", "", key)  # file and config names
    key = key.rsplit("/", 1)[-1]  # "configs/sam2.1/sam2.1_hiera_t"
    return key.replace("-", "_")


def _sam2_name(name: str) -> str | None:
    """Registry name of a SAM 2 name or alias (see :func:`get_spec`), None when none matches."""
    key = _normalise(name)
    if key in _SPECS and _SPECS[key].backend == "sam2":
        return key
    if key in ("medsam2", "medsam2_latest", "medsam2_latest.pt"):
        return MEDSAM2.name
    if key in _SIZE_ALIASES:
        return f"sam2.1_hiera_{_SIZE_ALIASES[key]}"
    m = re.fullmatch(r"(sam2(?:\.1)?)_hiera_(.+)", key)
    if m and m.group(2) in _SIZE_ALIASES:
        return f"{m.group(1)}_hiera_{_SIZE_ALIASES[m.group(2)]}"
    return None


def _sam_name(name: str) -> str | None:
    """Registry name of a SAM (v1) name or alias (see :func:`get_spec`), None when none matches."""
    key = name.strip().lower().replace("-", "_")
    key = re.sub(r"^facebook/", "", key)
    key = re.sub(r"\.pth?$", "", key)
    key = re.sub(r"^(sam_vit_[blh])_[0-9a-f]{6}$", r"\1", key)  # official file stems
    key = re.sub(r"^sam_", "", key)
    key = re.sub(r"^vit_(base|large|huge)$", r"\1", key)  # Hugging Face ids sam-vit-base …
    return f"sam_{_SAM_ALIASES[key]}" if key in _SAM_ALIASES else None


_HF_ALIASES = {
    "edgetam": "hf_edgetam",
    "edgetam_hf": "hf_edgetam",
    "yonigozlan/edgetam_hf": "hf_edgetam",
    "sam3_tracker": "hf_sam3_tracker",
    "sam3": "hf_sam3",
    "facebook/sam3": "hf_sam3",
}


def _hf_name(name: str) -> str | None:
    """Registry name of a transformers model name or alias (see :func:`get_spec`), None when none matches."""
    key = name.strip().lower().replace("-", "_")
    if key in _SPECS and _SPECS[key].backend == "transformers":
        return key
    if key in _HF_ALIASES:
        return _HF_ALIASES[key]
    for spec in _SPECS.values():  # model ids, "facebook/sam2.1-hiera-tiny"
        if spec.backend == "transformers" and key == spec.filename.lower().replace("-", "_"):
            return spec.name if spec.architecture != "sam3" else "hf_sam3"
    sam2 = _sam2_name(name)  # "sam2.1_hiera_tiny", "tiny" … name the same model through transformers
    if sam2 is not None and f"hf_{sam2}" in _SPECS:
        return f"hf_{sam2}"
    return None


_LOOKUP = {
    "sam2": ("model", _sam2_name),
    "sam": ("SAM model", _sam_name),
    "transformers": ("transformers model", _hf_name),
}
"""Per backend: the kind of name in error messages and the alias resolver."""


def _check_backend(backend: str) -> str:
    if backend not in MODEL_BACKENDS:
        raise UnknownNameError("model backend", backend, MODEL_BACKENDS)
    return backend


def _valid_names(backend: str) -> list[str]:
    names = [s.name for s in _SPECS.values() if s.backend == backend]
    return names + list(SAM_MODELS) if backend == "sam" else names


def get_spec(name: str | ModelSpec, backend: str | None = None) -> ModelSpec:
    """Look up an official checkpoint by registry name or alias among one backend's models.

    Parameters
    ----------
    name : str or ModelSpec
        A name or alias (case-insensitive); a :class:`ModelSpec` is returned as is.

        * ``"sam2"``: the registry name (``"sam2.1_hiera_tiny"``), the config stem
          (``"sam2.1_hiera_t"``, ``"sam2.1_hiera_b+"``), the file or config name
          (``"sam2.1_hiera_tiny.pt"``, ``"configs/sam2.1/sam2.1_hiera_t.yaml"``), the Hugging Face
          id (``"facebook/sam2.1-hiera-tiny"``) and a bare size (``"tiny"``, ``"b+"``,
          ``"large"``), which means SAM 2.1.
        * ``"sam"``: the model type of ``segment_anything.sam_model_registry`` (``"vit_b"``,
          ``"vit_l"``, ``"vit_h"``, ``"default"`` = vit_h), the registry name (``"sam_vit_b"``), the
          official file name (``"sam_vit_b_01ec64.pth"``), the Hugging Face id
          (``"facebook/sam-vit-base"``) and ``"b"`` / ``"base"`` / ``"l"`` / ``"large"`` / ``"h"`` /
          ``"huge"``.
        * ``"transformers"``: the registry name (``"hf_sam2.1_hiera_tiny"``, ``"hf_edgetam"``,
          ``"hf_sam3_tracker"``, ``"hf_sam3"``), the Hugging Face model id
          (``"facebook/sam2.1-hiera-tiny"``, ``"yonigozlan/EdgeTAM-hf"``, ``"facebook/sam3"``:
          the concept model), ``"edgetam"``, ``"sam3_tracker"``, ``"sam3"``, and any SAM 2 name
          above (``"sam2.1_hiera_tiny"``, ``"tiny"``: the same model through transformers).
    backend : {"sam2", "sam", "transformers"}, optional
        Whose names to look up; default ``"sam2"``. With a ModelSpec, None accepts any backend.

    Raises
    ------
    UnknownNameError
        The name matches no checkpoint of that backend (the message lists its names), a
        ModelSpec of another backend, or an unknown backend.
    """
    if backend is not None:
        _check_backend(backend)
    if isinstance(name, ModelSpec):
        if backend is None or name.backend == backend:
            return name
        raise UnknownNameError(_LOOKUP[backend][0], name.name, _valid_names(backend))
    backend = backend or DEFAULT_BACKEND
    what, lookup = _LOOKUP[backend]
    key = lookup(name) if isinstance(name, str) else None
    if key is None:
        raise UnknownNameError(what, name, _valid_names(backend))
    return _SPECS[key]


def list_specs(backend: str | None = DEFAULT_BACKEND) -> list[ModelSpec]:
    """Official checkpoints of ``backend`` (None: of every backend): SAM 2.1 tiny → large, SAM 2
    tiny → large, MedSAM2, SAM vit_b, vit_l, vit_h, then the transformers models (SAM 2.1 and
    SAM 2 tiny → large, EdgeTAM, SAM 3 tracker, SAM 3).

    Raises
    ------
    UnknownNameError
        Unknown backend.
    """
    if backend is not None:
        _check_backend(backend)
    return [s for s in _SPECS.values() if backend is None or s.backend == backend]


def _dir(checkpoint_dir: str | Path | None) -> Path:
    return Path(checkpoint_dir).expanduser().resolve() if checkpoint_dir is not None else _default_checkpoint_dir()


def _missing_message(spec: ModelSpec, folder: Path) -> str:
    if spec.backend == "transformers":
        return (
            f"Model folder {spec.filename} for {spec.name!r} not found in {folder} (it needs config.json and "
            f"model.safetensors). Download it with `hf download {spec.filename} --local-dir "
            f"{folder / spec.filename}` (needs internet and, for SAM 3, accepting its licence on the Hub)"
            + (
                ", or convert the official checkpoint with workbench.backends.transformers.convert_sam2_checkpoint"
                if spec.architecture == "sam2"
                else ""
            )
            + f". To use another folder, set {CHECKPOINT_DIR_ENV}. For a quick test without weights pass "
            "checkpoint='random' (untrained, meaningless masks)."
        )
    if spec.backend == "sam":
        return (
            f"SAM checkpoint {spec.filename} for model {spec.size!r} not found in {folder}. Fetch {spec.url} into "
            f"that folder (or in Python: workbench.backends.registry.download_checkpoint("
            f"{spec.name!r}, backend='sam')). To use another folder, set {CHECKPOINT_DIR_ENV}. "
            "For a quick test without weights pass checkpoint='random' (untrained, meaningless masks)."
        )
    return (
        f"Checkpoint {spec.filename} for model {spec.name!r} not found in {folder}. "
        f"Download it with `workbench checkpoints download {spec.name}` (needs internet), or fetch "
        f"{spec.url} by hand into that folder. To use another folder, set {CHECKPOINT_DIR_ENV}. "
        "For a quick test without weights pass checkpoint='random' (untrained, meaningless masks)."
    )


def resolve_checkpoint(
    name: str | ModelSpec, checkpoint_dir: str | Path | None = None, *, backend: str | None = None
) -> Path:
    """Path of the official checkpoint file of ``name`` in the checkpoint directory.

    Parameters
    ----------
    name : str or ModelSpec
        Registry name or alias (see :func:`get_spec`).
    checkpoint_dir : str or Path, optional
        Folder to look in (one folder for every backend); default
        :func:`workbench.config.checkpoint_dir` (``$SAM2_CHECKPOINT_DIR`` or
        ``~/.cache/sam2_workbench/checkpoints``).
    backend : {"sam2", "sam"}, optional
        Whose names ``name`` is looked up among (see :func:`get_spec`); default ``"sam2"``.

    Raises
    ------
    UnknownNameError
        Unknown model name.
    CheckpointNotFoundError
        The file is not there; the message names the file, the folder and how to get it.
    """
    spec = get_spec(name, backend)
    folder = _dir(checkpoint_dir)
    path = folder / spec.filename
    if is_present(spec, folder):
        return path
    raise CheckpointNotFoundError(_missing_message(spec, folder))


def is_present(spec: ModelSpec, checkpoint_dir: str | Path | None = None) -> bool:
    """Whether ``spec``'s checkpoint is in the checkpoint directory: its file, or for a
    transformers model its folder with ``config.json`` and ``model.safetensors``."""
    folder = _dir(checkpoint_dir)
    if spec.backend == "transformers":
        return (folder / spec.filename / "config.json").is_file() and (folder / spec.weights_file).is_file()
    return (folder / spec.filename).is_file()


def available_models(checkpoint_dir: str | Path | None = None, backend: str = DEFAULT_BACKEND) -> list[str]:
    """Models of ``backend`` whose official checkpoint file is present, in :func:`list_specs`
    order, by the name its factory takes (:attr:`ModelSpec.factory_name`: registry names such
    as ``"sam2.1_hiera_tiny"`` for SAM 2, model types such as ``"vit_b"`` for SAM).

    Raises
    ------
    UnknownNameError
        Unknown backend.
    """
    folder = _dir(checkpoint_dir)
    return [s.factory_name for s in list_specs(_check_backend(backend)) if is_present(s, folder)]


def checkpoint_table(checkpoint_dir: str | Path | None = None, backend: str | None = DEFAULT_BACKEND) -> list[dict]:
    """One row per official checkpoint of ``backend`` (None: every backend) for
    ``workbench checkpoints list``.

    Returns
    -------
    list of dict
        Keys: ``name``, ``backend`` (``"sam2"``, ``"sam"``, ``"transformers"``), ``family``
        (release), ``file`` (path in the checkpoint folder: the weights file, for transformers
        ``<model id>/model.safetensors``), ``present`` (bool), ``size`` (bytes on disk, None when
        absent), ``expected_size`` (official bytes or None), ``url``.
    """
    folder = _dir(checkpoint_dir)
    rows = []
    for s in list_specs(backend):
        path = folder / s.weights_file
        present = is_present(s, folder)
        rows.append(
            {
                "name": s.name,
                "backend": s.backend,
                "family": s.family,
                "file": str(path),
                "present": present,
                "size": path.stat().st_size if present else None,
                "expected_size": s.size_bytes,
                "url": s.url,
            }
        )
    return rows


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in ``chunk_size``-byte chunks.

    Raises
    ------
    CheckpointNotFoundError
        The file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"Cannot hash {path}: no such file.")
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk_size):
            h.update(block)
    return h.hexdigest()


def _manual_hint(spec: ModelSpec, folder: Path, url: str) -> str:
    return (
        f"Downloading needs internet access. Without it, fetch {url} on another machine and copy it to "
        f"{folder / spec.filename} (or set {CHECKPOINT_DIR_ENV} to the folder holding {spec.filename})."
    )


def download_checkpoint(
    name: str | ModelSpec,
    checkpoint_dir: str | Path | None = None,
    timeout: float = 30,
    *,
    backend: str | None = None,
    url: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download an official checkpoint into the checkpoint directory.

    The file is streamed to a temporary file beside the target and renamed only once it is
    complete, so an interrupted download never leaves a truncated checkpoint behind.

    Parameters
    ----------
    name : str or ModelSpec
        Registry name or alias (see :func:`get_spec`).
    checkpoint_dir : str or Path, optional
        Target folder (created if needed); default :func:`workbench.config.checkpoint_dir`.
    timeout : float
        Socket timeout in seconds for connecting and for each read.
    backend : {"sam2", "sam"}, optional
        Whose names ``name`` is looked up among; default ``"sam2"``.
    url : str, optional
        Download from this URL instead of the official one (a mirror). A mirror may serve a
        re-saved file, so its download is checked against its ``Content-Length`` only; compare
        it with the official digest with :func:`verify_checkpoints`.
    overwrite : bool
        Download again even when the file is already present.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total_or_None)`` after each chunk.

    Returns
    -------
    Path
        The checkpoint file.

    Raises
    ------
    DownloadError
        Network failure, HTTP error, or a size / checksum mismatch; the message says how to
        install the file by hand.
    """
    spec = get_spec(name, backend)
    folder = _dir(checkpoint_dir)
    target = folder / spec.filename
    if spec.backend == "transformers":
        raise DownloadError(_missing_message(spec, folder))
    if target.is_file() and not overwrite:
        return target
    official = url is None or url == spec.url
    url = url or spec.url
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the checkpoint folder {folder}: {exc}. Set {CHECKPOINT_DIR_ENV} to a writable folder."
        ) from exc
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "sam2-workbench"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                while block := resp.read(1 << 20):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        expected = (spec.size_bytes if official else None) or total
        if expected is not None and done != expected:
            raise DownloadError(
                f"Download of {url} is incomplete: got {done} bytes, expected {expected}. "
                "Try again. " + _manual_hint(spec, folder, url)
            )
        if official and spec.sha256 is not None and h.hexdigest() != spec.sha256:
            raise DownloadError(
                f"Checksum mismatch for {url}: SHA-256 {h.hexdigest()}, expected {spec.sha256}. "
                "Try again. " + _manual_hint(spec, folder, url)
            )
        os.replace(tmp, target)
    except DownloadError:
        tmp.unlink(missing_ok=True)
        raise
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"Could not download {spec.filename} from {url}: the server answered HTTP "
            f"{exc.code} ({exc.reason}). Check the URL. " + _manual_hint(spec, folder, url)
        ) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:  # timeouts, resets
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"Could not download {spec.filename} from {url}: {reason}. " + _manual_hint(spec, folder, url)
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "FAMILIES",
    "HF_ARCHITECTURES",
    "MEDSAM2",
    "MODEL_BACKENDS",
    "OFFICIAL_FILES",
    "SAM_MODELS",
    "SIZES",
    "ModelSpec",
    "available_models",
    "checkpoint_table",
    "download_checkpoint",
    "get_spec",
    "is_present",
    "list_specs",
    "resolve_checkpoint",
    "sha256_file",
]
