"""The official SAM 2 / SAM 2.1 checkpoints: names, configs, files, URLs, download.

No torch import here: the CLI (``workbench checkpoints list/download``) and the backend
chooser use this module without loading torch.

Source: the checkpoint table and download script of the reference implementation
(https://github.com/facebookresearch/sam2, ``README.md`` and ``checkpoints/download_ckpts.sh``)
and the config names of ``sam2.build_sam.HF_MODEL_ID_TO_FILENAMES`` (sam2 1.1.0).
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

from ..config import CHECKPOINT_DIR_ENV, checkpoint_dir as _default_checkpoint_dir
from ..errors import CheckpointNotFoundError, DownloadError, UnknownNameError

FAMILIES = ("sam2", "sam2.1")
SIZES = ("tiny", "small", "base_plus", "large")
DEFAULT_MODEL = "sam2.1_hiera_tiny"


@dataclass(frozen=True)
class ModelSpec:
    """One official SAM 2 checkpoint.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"sam2.1_hiera_tiny"`` (the file name without ``.pt``).
    family : {"sam2", "sam2.1"}
        Release: SAM 2 (July 2024) or SAM 2.1 (September 2024).
    size : {"tiny", "small", "base_plus", "large"}
        Hiera image-encoder size.
    config : str
        Hydra config name resolved inside the ``sam2`` package,
        e.g. ``"configs/sam2.1/sam2.1_hiera_t.yaml"``.
    filename : str
        Official checkpoint file name, e.g. ``"sam2.1_hiera_tiny.pt"``.
    url : str
        Official download URL on ``dl.fbaipublicfiles.com``.
    size_bytes : int or None
        Official file size in bytes (:data:`OFFICIAL_FILES`); None when not known (then only
        ``Content-Length`` is checked).
    sha256 : str or None
        Official SHA-256 hex digest (:data:`OFFICIAL_FILES`); None when not known.
    """

    name: str
    family: str
    size: str
    config: str
    filename: str
    url: str
    size_bytes: int | None = None
    sha256: str | None = None


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
        family=family,
        size=size,
        config=f"configs/{family}/{family}_hiera_{_CONFIG_LETTER[size]}.yaml",
        filename=f"{name}.pt",
        url=_URL_BASE[family] + f"{name}.pt",
        size_bytes=size_bytes,
        sha256=sha256,
    )


# SAM 2.1 first (recommended by the authors), small to large within a family.
_SPECS: dict[str, ModelSpec] = {
    s.name: s for s in (_make_spec(f, z) for f in ("sam2.1", "sam2") for z in SIZES)
}

_SIZE_ALIASES = {
    "t": "tiny", "tiny": "tiny",
    "s": "small", "small": "small",
    "b+": "base_plus", "base+": "base_plus", "base_plus": "base_plus", "baseplus": "base_plus",
    "bplus": "base_plus", "b_plus": "base_plus",
    "l": "large", "large": "large",
}


def _normalise(name: str) -> str:
    key = name.strip().lower()
    key = re.sub(r"^facebook/", "", key)  # Hugging Face model ids
    key = re.sub(r"\.(pt|yaml)$", "", key)  # file and config names
    key = key.rsplit("/", 1)[-1]  # "configs/sam2.1/sam2.1_hiera_t"
    return key.replace("-", "_")


def get_spec(name: str) -> ModelSpec:
    """Look up a checkpoint by registry name or alias.

    Accepted forms (case-insensitive): the registry name (``"sam2.1_hiera_tiny"``), the
    config stem (``"sam2.1_hiera_t"``, ``"sam2.1_hiera_b+"``), the file or config name
    (``"sam2.1_hiera_tiny.pt"``, ``"configs/sam2.1/sam2.1_hiera_t.yaml"``), the Hugging Face id
    (``"facebook/sam2.1-hiera-tiny"``) and a bare size (``"tiny"``, ``"b+"``, ``"large"``), which
    means SAM 2.1.

    Raises
    ------
    UnknownNameError
        The name matches no checkpoint; the message lists the registry names.
    """
    if isinstance(name, ModelSpec):
        return name
    if not isinstance(name, str):
        raise UnknownNameError("model", name, _SPECS)
    key = _normalise(name)
    if key in _SPECS:
        return _SPECS[key]
    if key in _SIZE_ALIASES:
        return _SPECS[f"sam2.1_hiera_{_SIZE_ALIASES[key]}"]
    m = re.fullmatch(r"(sam2(?:\.1)?)_hiera_(.+)", key)
    if m and m.group(2) in _SIZE_ALIASES:
        return _SPECS[f"{m.group(1)}_hiera_{_SIZE_ALIASES[m.group(2)]}"]
    raise UnknownNameError("model", name, _SPECS)


def list_specs() -> list[ModelSpec]:
    """All official checkpoints: SAM 2.1 tiny → large, then SAM 2 tiny → large."""
    return list(_SPECS.values())


def _dir(checkpoint_dir: str | Path | None) -> Path:
    return Path(checkpoint_dir).expanduser().resolve() if checkpoint_dir is not None else _default_checkpoint_dir()


def resolve_checkpoint(name: str, checkpoint_dir: str | Path | None = None) -> Path:
    """Path of the official checkpoint file of ``name`` in the checkpoint directory.

    Parameters
    ----------
    name : str
        Registry name or alias (see :func:`get_spec`).
    checkpoint_dir : str or Path, optional
        Folder to look in; default :func:`workbench.config.checkpoint_dir`
        (``$SAM2_CHECKPOINT_DIR`` or ``~/.cache/sam2_workbench/checkpoints``).

    Raises
    ------
    UnknownNameError
        Unknown model name.
    CheckpointNotFoundError
        The file is not there; the message says where it was looked for and how to get it.
    """
    spec = get_spec(name)
    folder = _dir(checkpoint_dir)
    path = folder / spec.filename
    if path.is_file():
        return path
    raise CheckpointNotFoundError(
        f"Checkpoint {spec.filename} for model {spec.name!r} not found in {folder}. "
        f"Download it with `workbench checkpoints download {spec.name}` (needs internet), or fetch "
        f"{spec.url} by hand into that folder. To use another folder, set {CHECKPOINT_DIR_ENV}. "
        "For a quick test without weights pass checkpoint='random' (untrained, meaningless masks)."
    )


def available_models(checkpoint_dir: str | Path | None = None) -> list[str]:
    """Registry names whose checkpoint file is present, in :func:`list_specs` order."""
    folder = _dir(checkpoint_dir)
    return [s.name for s in _SPECS.values() if (folder / s.filename).is_file()]


def checkpoint_table(checkpoint_dir: str | Path | None = None) -> list[dict]:
    """One row per official checkpoint for ``workbench checkpoints list``.

    Returns
    -------
    list of dict
        Keys: ``name``, ``family``, ``file`` (path in the checkpoint folder), ``present`` (bool),
        ``size`` (bytes on disk, None when absent), ``expected_size`` (official bytes or None),
        ``url``.
    """
    folder = _dir(checkpoint_dir)
    rows = []
    for s in _SPECS.values():
        path = folder / s.filename
        present = path.is_file()
        rows.append({
            "name": s.name, "family": s.family, "file": str(path), "present": present,
            "size": path.stat().st_size if present else None, "expected_size": s.size_bytes,
            "url": s.url,
        })
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
    return (f"Downloading needs internet access. Without it, fetch {url} on another machine and copy it to "
            f"{folder / spec.filename} (or set {CHECKPOINT_DIR_ENV} to the folder holding {spec.filename}).")


def download_checkpoint(
    name: str,
    checkpoint_dir: str | Path | None = None,
    timeout: float = 30,
    *,
    url: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download an official checkpoint into the checkpoint directory.

    The file is streamed to a temporary file beside the target and renamed only once it is
    complete, so an interrupted download never leaves a truncated checkpoint behind.

    Parameters
    ----------
    name : str
        Registry name or alias (see :func:`get_spec`).
    checkpoint_dir : str or Path, optional
        Target folder (created if needed); default :func:`workbench.config.checkpoint_dir`.
    timeout : float
        Socket timeout in seconds for connecting and for each read.
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
    spec = get_spec(name)
    folder = _dir(checkpoint_dir)
    target = folder / spec.filename
    if target.is_file() and not overwrite:
        return target
    official = url is None or url == spec.url
    url = url or spec.url
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the checkpoint folder {folder}: {exc}. "
                            f"Set {CHECKPOINT_DIR_ENV} to a writable folder.") from exc
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
            raise DownloadError(f"Download of {url} is incomplete: got {done} bytes, expected {expected}. "
                                "Try again. " + _manual_hint(spec, folder, url))
        if official and spec.sha256 is not None and h.hexdigest() != spec.sha256:
            raise DownloadError(f"Checksum mismatch for {url}: SHA-256 {h.hexdigest()}, expected {spec.sha256}. "
                                "Try again. " + _manual_hint(spec, folder, url))
        os.replace(tmp, target)
    except DownloadError:
        tmp.unlink(missing_ok=True)
        raise
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"Could not download {spec.filename} from {url}: the server answered HTTP "
                            f"{exc.code} ({exc.reason}). Check the URL. " + _manual_hint(spec, folder, url)) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:  # timeouts, resets
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"Could not download {spec.filename} from {url}: {reason}. "
                            + _manual_hint(spec, folder, url)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# -- SAM (v1) ----------------------------------------------------------------------------------
# Kept apart from the SAM 2 table above: ``get_spec``, ``list_specs``, ``available_models`` and
# ``checkpoint_table`` are about SAM 2 only. A SAM 1 ``ModelSpec`` has ``family="sam"``, ``size``
# and ``config`` = the model type of ``segment_anything.sam_model_registry`` (``"vit_b"`` …).
# Source: the "Model Checkpoints" section of https://github.com/facebookresearch/segment-anything
# (README.md). The official files are ``.pth``; sizes and digests: OFFICIAL_FILES (sources there).
SAM1_FAMILY = "sam"
SAM1_MODELS = ("vit_b", "vit_l", "vit_h")
_SAM1_URL_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
_SAM1_FILES = {"vit_b": "sam_vit_b_01ec64.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_h": "sam_vit_h_4b8939.pth"}
SAM1_SPECS: dict[str, ModelSpec] = {
    f"sam_{t}": ModelSpec(name=f"sam_{t}", family=SAM1_FAMILY, size=t, config=t, filename=f,
                          url=_SAM1_URL_BASE + f, size_bytes=OFFICIAL_FILES[f][0], sha256=OFFICIAL_FILES[f][1])
    for t, f in _SAM1_FILES.items()
}
"""The three official SAM checkpoints by registry name (``"sam_vit_b"``, ``"sam_vit_l"``, ``"sam_vit_h"``)."""

_SAM1_ALIASES = {
    "b": "vit_b", "base": "vit_b", "vit_b": "vit_b",
    "l": "vit_l", "large": "vit_l", "vit_l": "vit_l",
    "h": "vit_h", "huge": "vit_h", "vit_h": "vit_h", "default": "vit_h",  # "default" is vit_h upstream
}


def get_sam1_spec(name: str) -> ModelSpec:
    """Look up an official SAM (v1) checkpoint.

    Accepted forms (case-insensitive): the model type of ``segment_anything.sam_model_registry``
    (``"vit_b"``, ``"vit_l"``, ``"vit_h"``, ``"default"`` = vit_h), the registry name
    (``"sam_vit_b"``), the official file name (``"sam_vit_b_01ec64.pth"``), the Hugging Face id
    (``"facebook/sam-vit-base"``) and ``"b"`` / ``"base"`` / ``"l"`` / ``"large"`` / ``"h"`` / ``"huge"``.

    Raises
    ------
    UnknownNameError
        No SAM 1 checkpoint has that name; the message lists the valid names.
    """
    if isinstance(name, ModelSpec) and name.family == SAM1_FAMILY:
        return name
    if not isinstance(name, str):
        raise UnknownNameError("SAM model", name, [*SAM1_SPECS, *SAM1_MODELS])
    key = name.strip().lower().replace("-", "_")
    key = re.sub(r"^facebook/", "", key)
    key = re.sub(r"\.pth?$", "", key)
    key = re.sub(r"^(sam_vit_[blh])_[0-9a-f]{6}$", r"\1", key)  # official file stems
    key = re.sub(r"^sam_", "", key)
    key = re.sub(r"^vit_(base|large|huge)$", r"\1", key)  # Hugging Face ids sam-vit-base …
    if key in _SAM1_ALIASES:
        return SAM1_SPECS[f"sam_{_SAM1_ALIASES[key]}"]
    raise UnknownNameError("SAM model", name, [*SAM1_SPECS, *SAM1_MODELS])


def list_sam1_specs() -> list[ModelSpec]:
    """The official SAM (v1) checkpoints: vit_b, vit_l, vit_h."""
    return list(SAM1_SPECS.values())


def resolve_sam1_checkpoint(name: str, checkpoint_dir: str | Path | None = None) -> Path:
    """Path of the official SAM (v1) checkpoint file of ``name`` in the checkpoint directory
    (the same folder as SAM 2's, see :func:`resolve_checkpoint`).

    Raises
    ------
    UnknownNameError
        Unknown model name.
    CheckpointNotFoundError
        The file is not there; the message names the file, the folder and the download URL.
    """
    spec = get_sam1_spec(name)
    folder = _dir(checkpoint_dir)
    path = folder / spec.filename
    if path.is_file():
        return path
    raise CheckpointNotFoundError(
        f"SAM checkpoint {spec.filename} for model {spec.size!r} not found in {folder}. Fetch {spec.url} into "
        f"that folder (or in Python: workbench.backends.registry.download_checkpoint("
        f"get_sam1_spec({spec.size!r}))). To use another folder, set {CHECKPOINT_DIR_ENV}. "
        "For a quick test without weights pass checkpoint='random' (untrained, meaningless masks)."
    )


def available_sam1_models(checkpoint_dir: str | Path | None = None) -> list[str]:
    """Model types (``"vit_b"`` …) whose official SAM (v1) checkpoint file is present."""
    folder = _dir(checkpoint_dir)
    return [s.size for s in SAM1_SPECS.values() if (folder / s.filename).is_file()]


__all__ = [
    "DEFAULT_MODEL", "FAMILIES", "ModelSpec", "SIZES", "available_models", "checkpoint_table", "download_checkpoint", "get_spec",
    "list_specs", "resolve_checkpoint", "sha256_file",
    "SAM1_FAMILY", "SAM1_MODELS", "SAM1_SPECS", "available_sam1_models", "get_sam1_spec", "list_sam1_specs",
    "resolve_sam1_checkpoint",
]
