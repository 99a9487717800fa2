"""Family-neutral model loading: devices and safe, weights-only checkpoint loading.

Shared by the SAM 2 (:mod:`workbench.backends.sam2.loading`) and SAM v1
(:mod:`workbench.backends.sam.loading`) loaders, so that neither family imports the other.
Checkpoints are unpickled with ``torch.load(weights_only=True)`` (tensors only, never code) and
loaded with a strict key/shape match; every failure is a
:class:`~workbench.errors.CheckpointError` subclass whose message says how to fix it.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch

from ..errors import (
    BackendError,
    CheckpointFormatError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    UnsafeCheckpointError,
)
from .registry import ModelSpec, sha256_file

RANDOM = "random"
"""Value of ``checkpoint`` that asks for untrained (randomly initialised) weights."""

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def checkpoint_digest(path: Path) -> str:
    """SHA-256 of a checkpoint, cached per (path, size, mtime) for the process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """Parse ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``) into a torch device.

    ``"auto"`` means CUDA when available, else CPU.

    Raises
    ------
    BackendError
        CUDA was asked for but is not available, or the string is not a device.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BackendError(f"Invalid device {device!r}: {exc}. Use 'cpu', 'cuda', 'cuda:N' or 'auto'.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendError(
                f"Device {device!r} asked for, but CUDA is not available here "
                f"(torch {torch.__version__}). Use device='cpu' or 'auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BackendError(f"Device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s).")
    elif dev.type != "cpu":
        raise BackendError(f"Unsupported device {device!r}; SAM 2 runs on 'cpu' or 'cuda'.")
    return dev


def safe_torch_load(path: str | Path) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with every failure turned
    into a :class:`CheckpointError` subclass (shared by the SAM 2 and SAM v1 loaders).

    Raises
    ------
    CheckpointNotFoundError
        No such file.
    UnsafeCheckpointError
        The file contains pickled Python objects (refused, never executed).
    CheckpointFormatError
        Truncated or corrupt file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"Checkpoint file not found: {path}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if "global" in msg.lower():  # the weights-only unpickler met a reference to code
            found = re.search(r"GLOBAL\s+([\w.]+)", msg)
            what = f" (it references {found.group(1)})" if found else ""
            raise UnsafeCheckpointError(
                f"Refusing to load a checkpoint containing pickled code: {path}{what}. Official SAM "
                "checkpoints hold only tensors. Re-download the file, or, only if you trust its source, "
                "re-save just its weights (workbench's save_checkpoint / save_sam1_checkpoint do this)."
            ) from exc
        raise CheckpointFormatError(
            f"Checkpoint {path} is corrupt ({msg.splitlines()[0] if msg else exc!r}). Delete it and download it again."
        ) from exc
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile, IndexError) as exc:
        first = (str(exc).splitlines() or [repr(exc)])[0][:200]
        raise CheckpointFormatError(
            f"Checkpoint {path} ({path.stat().st_size} bytes) is truncated or corrupt: {first or type(exc).__name__}. "
            "Delete it and download it again (`workbench checkpoints download NAME`)."
        ) from exc


def load_state_dict_strict(
    model: torch.nn.Module, sd: dict, path: Path, against: str, key_hint: str, shape_hint=None
) -> None:
    """Load ``sd`` into ``model`` only if keys and shapes match exactly.

    ``key_hint`` ends the message for missing/unexpected keys; ``shape_hint(bad_keys)`` (optional)
    returns the end of the message for shape mismatches.

    Raises
    ------
    CheckpointFormatError
        ``sd`` is not a non-empty dict of tensors.
    CheckpointMismatchError
        Missing or unexpected keys, or tensor shapes that differ from the model.
    """
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointFormatError(f"Checkpoint {path}: the weights must be a state dict of tensors.")
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
    if missing or unexpected:
        parts = [f"{len(missing)} missing key(s), e.g. {missing[:4]}"] if missing else []
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[:4]}")
        raise CheckpointMismatchError(f"Checkpoint {path} does not match {against}: {'; '.join(parts)}. {key_hint}")
    bad = [k for k, v in sd.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if bad:
        k = bad[0]
        hint = shape_hint(bad) if shape_hint else "Pick the model that matches the checkpoint."
        raise CheckpointMismatchError(
            f"Checkpoint {path} does not match {against}: {len(bad)} tensor(s) differ in shape, e.g. {k} is "
            f"{tuple(sd[k].shape)} in the file but {tuple(expected[k].shape)} in the model. {hint}"
        )
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:  # dtype problems etc.
        raise CheckpointMismatchError(f"Checkpoint {path} cannot be loaded into {against}: {exc}") from exc


def checkpoint_path(checkpoint, spec: ModelSpec, resolve) -> Path | None:
    """The weights file a ``checkpoint`` argument names: None → ``resolve()`` (the official file
    in the checkpoint directory), ``"random"`` → None (untrained), else an existing file.

    Raises
    ------
    CheckpointNotFoundError
        The file does not exist.
    """
    if checkpoint is None:
        return resolve()
    if isinstance(checkpoint, str) and checkpoint == RANDOM:
        return None
    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"Checkpoint file not found: {path}. Pass an existing file, checkpoint=None to use "
            f"{spec.filename} from the checkpoint directory, or checkpoint='random' for untrained weights."
        )
    return path


__all__ = [
    "RANDOM",
    "checkpoint_digest",
    "checkpoint_path",
    "load_state_dict_strict",
    "resolve_device",
    "safe_torch_load",
]
