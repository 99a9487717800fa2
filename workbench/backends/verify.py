"""Checkpoint integrity: compare files on disk with the official sizes and SHA-256 digests.

Torch-free (like :mod:`workbench.backends.registry`): ``workbench checkpoints verify`` runs
without loading torch. The official values are :data:`registry.OFFICIAL_FILES` (their sources
are cited there); where a value is not known the record says so and still reports the file's
own SHA-256, so it can be compared by hand.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UnknownNameError
from . import registry

__all__ = ["CheckpointCheck", "add_verify_command", "verify_checkpoints"]


@dataclass(frozen=True)
class CheckpointCheck:
    """What :func:`verify_checkpoints` found for one checkpoint.

    Attributes
    ----------
    name : str
        Registry name (``"sam2.1_hiera_tiny"``, ``"sam_vit_b"``).
    file : str
        Path looked at.
    present : bool
        The file exists.
    size : int or None
        Bytes on disk (None when absent).
    expected_size : int or None
        Official size (None when not known).
    size_ok : bool or None
        ``size == expected_size``; None when absent or not known.
    sha256 : str or None
        SHA-256 of the file (None when absent or hashing was skipped).
    expected_sha256 : str or None
        Official digest (None when not known).
    sha256_ok : bool or None
        ``sha256 == expected_sha256``; None when either is missing.
    """

    name: str
    file: str
    present: bool
    size: int | None
    expected_size: int | None
    size_ok: bool | None
    sha256: str | None
    expected_sha256: str | None
    sha256_ok: bool | None

    @property
    def ok(self) -> bool:
        """Present and not contradicted by any known official value."""
        return self.present and self.size_ok is not False and self.sha256_ok is not False

    @property
    def status(self) -> str:
        """``ok`` (official SHA-256 matches), ``size ok`` (sizes only were compared),
        ``missing``, ``size mismatch``, ``sha256 mismatch`` or ``unverified`` (no official
        value to compare with)."""
        if not self.present:
            return "missing"
        if self.size_ok is False:
            return "size mismatch"
        if self.sha256_ok is False:
            return "sha256 mismatch"
        if self.sha256_ok:
            return "ok"
        if self.size_ok and self.sha256 is None:
            return "size ok"
        return "unverified"

    def to_dict(self) -> dict:
        """The fields plus ``ok`` and ``status`` (JSON-ready)."""
        return {**asdict(self), "ok": self.ok, "status": self.status}


def _all_specs() -> list[registry.ModelSpec]:
    return registry.list_specs(backend=None)


def _resolve(name: str) -> tuple[registry.ModelSpec, Path | None]:
    """Spec of a registry name / alias (looked up among the backends in
    :data:`registry.MODEL_BACKENDS` order: SAM 2 first, then SAM v1, then transformers) or of a
    checkpoint file path named like an official file; the path when one was given (for a
    transformers model folder, its ``model.safetensors``)."""
    path = Path(str(name)).expanduser()
    if path.is_dir() and (path / "model.safetensors").is_file():
        for spec in _all_specs():
            if spec.backend == "transformers" and path.as_posix().endswith(spec.filename):
                return spec, path / "model.safetensors"
        raise UnknownNameError(
            "model folder", path.name, [s.filename for s in _all_specs() if s.backend == "transformers"]
        )
    if path.is_file():
        for spec in _all_specs():
            if spec.filename == path.name:
                return spec, path
        raise UnknownNameError("checkpoint file name", path.name, [s.filename for s in _all_specs()])
    for backend in registry.MODEL_BACKENDS:
        try:
            return registry.get_spec(name, backend=backend), None
        except UnknownNameError:
            pass
    raise UnknownNameError("checkpoint", name, [s.name for s in _all_specs()])


def verify_checkpoints(
    names: list[str] | None = None, checkpoint_dir: str | Path | None = None, compute_sha256: bool = True
) -> list[CheckpointCheck]:
    """Check checkpoint files against the official sizes and SHA-256 digests.

    Parameters
    ----------
    names : list of str, optional
        Registry names or aliases (``"sam2.1_hiera_tiny"``, ``"tiny"``, ``"sam_vit_b"``,
        ``"vit_h"``, ``"hf_sam2.1_hiera_tiny"`` …), or paths to checkpoint files carrying an
        official file name (or transformers model folders named by their model id). None: every
        registered checkpoint (SAM 2.1, SAM 2, MedSAM2, SAM v1, then the transformers model
        folders, whose ``model.safetensors`` is checked and, with no published digest, reported
        ``unverified`` with its own SHA-256), present or not.
    checkpoint_dir : str or Path, optional
        Folder of the checkpoints; default ``$SAM2_CHECKPOINT_DIR`` (see
        :func:`workbench.config.checkpoint_dir`).
    compute_sha256 : bool
        Hash the files (about 1-3 s per GB). False checks sizes only.

    Returns
    -------
    list of CheckpointCheck
        One per name, in order (``to_dict()`` gives name, file, present, size, size_ok, sha256,
        sha256_ok, the expected values, ok and status).

    Raises
    ------
    UnknownNameError
        A name matches no official checkpoint; the message lists the valid names.
    """
    folder = registry._dir(checkpoint_dir)
    targets = [(s, None) for s in _all_specs()] if names is None else [_resolve(n) for n in names]
    out = []
    for spec, given in targets:
        path = given if given is not None else folder / spec.weights_file
        present = path.is_file() if given is not None else registry.is_present(spec, folder)
        size = path.stat().st_size if present else None
        digest = registry.sha256_file(path) if present and compute_sha256 else None
        out.append(
            CheckpointCheck(
                name=spec.name,
                file=str(path),
                present=present,
                size=size,
                expected_size=spec.size_bytes,
                size_ok=None if size is None or spec.size_bytes is None else size == spec.size_bytes,
                sha256=digest,
                expected_sha256=spec.sha256,
                sha256_ok=None if digest is None or spec.sha256 is None else digest == spec.sha256,
            )
        )
    return out


_ADVICE = {
    "size mismatch": "truncated or another file: delete it and download it again",
    "sha256 mismatch": "not the official file (corrupt, re-saved or fine-tuned): download it again if unintended",
    "unverified": "no official digest known: compare the sha256 by hand",
}


def _cmd_verify(args) -> int:
    checks = verify_checkpoints(args.names or None, args.dir, compute_sha256=not args.size_only)
    width = max(len(c.name) for c in checks)
    failed = 0
    for c in checks:
        if not c.present and not args.names:
            continue
        detail = f"{c.size} bytes" if c.present else ""
        if c.sha256:
            detail += f"  sha256 {c.sha256}"
        line = f"{c.name:<{width}}  {c.status:<15} {c.file}  {detail}".rstrip()
        if c.status in _ADVICE:
            line += f"\n{'':<{width}}  -> {_ADVICE[c.status]}"
        print(line)
        failed += not c.ok
    missing = sum(not c.present for c in checks)
    if not args.names:
        print(
            f"{len(checks) - missing} of {len(checks)} official checkpoints present in "
            f"{registry._dir(args.dir)}; {missing} not downloaded."
        )
    return 1 if failed else 0


def add_verify_command(checkpoints_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``workbench checkpoints verify [NAME …] [--dir DIR] [--size-only]``.

    Exit status of the command: 0 when every checked file is present and matches the known
    official values, 1 otherwise (2 for errors such as an unknown name, via the CLI's
    handler). Returns the new subparser.
    """
    p = checkpoints_subparsers.add_parser(
        "verify", help="check checkpoint files against the official sizes and SHA-256 digests"
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="registry names, aliases or checkpoint files (default: every official checkpoint present)",
    )
    p.add_argument("--dir", default=None, help="checkpoint folder (default $SAM2_CHECKPOINT_DIR)")
    p.add_argument("--size-only", action="store_true", help="compare sizes only (no hashing)")
    p.set_defaults(func=_cmd_verify)
    return p
