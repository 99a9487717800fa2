"""Where the workbench looks for data and checkpoints (environment variables, defaults)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, overload

from .errors import ConfigError

DATA_DIR_ENV = "WORKBENCH_DATA_DIR"
CHECKPOINT_DIR_ENV = "SAM2_CHECKPOINT_DIR"
REPORTS_DIR_ENV = "WORKBENCH_REPORTS_DIR"


@overload
def data_dir(required: Literal[True]) -> Path: ...
@overload
def data_dir(required: bool = False) -> Path | None: ...
def data_dir(required: bool = False) -> Path | None:
    """Root of the evaluation data (``$WORKBENCH_DATA_DIR``), or None when unset.

    Raises
    ------
    ConfigError
        If the variable points to a missing folder, or is unset while ``required``.
    """
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if not value:
        if required:
            raise ConfigError(
                f"{DATA_DIR_ENV} is not set. Point it at a folder holding DAVIS-format data, "
                f"e.g. `export {DATA_DIR_ENV}=../shared/data` (DAVIS 2016/2017 can be downloaded "
                "from https://davischallenge.org/davis2017/code.html)."
            )
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"{DATA_DIR_ENV}={value!r} is not a folder. Set it to an existing data folder or unset it.")
    return path


def checkpoint_dir() -> Path:
    """Folder holding SAM checkpoints: ``$SAM2_CHECKPOINT_DIR``, default
    ``~/.cache/sam2_workbench/checkpoints`` (``$XDG_CACHE_HOME`` respected)."""
    value = os.environ.get(CHECKPOINT_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return (cache / "sam2_workbench" / "checkpoints").resolve()


PROJECT_NAME = "sam2-workbench"
"""The distribution name in the checkout's ``pyproject.toml`` (how a checkout is recognised)."""


def project_root() -> Path | None:
    """The checkout this package is imported from (the folder holding its ``pyproject.toml``),
    or None for an installed (non-editable) copy."""
    root = Path(__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{PROJECT_NAME}"' in text else None


def reports_dir() -> Path:
    """The one folder every run, report, widget export and dashboard uses by default.

    ``$WORKBENCH_REPORTS_DIR`` when set; else ``reports/`` at the project root when the package
    is imported from a checkout (so a notebook run from ``notebooks/`` and a CLI run from the
    root write to the same place); else ``./reports``.
    """
    value = os.environ.get(REPORTS_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    root = project_root()
    return (root / "reports" if root is not None else Path("reports")).resolve()
