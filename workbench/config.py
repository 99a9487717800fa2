"""Where the workbench looks for data and checkpoints (environment variables, defaults)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

DATA_DIR_ENV = "WORKBENCH_DATA_DIR"
CHECKPOINT_DIR_ENV = "SAM2_CHECKPOINT_DIR"
REPORTS_DIR_ENV = "WORKBENCH_REPORTS_DIR"


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


def reports_dir() -> Path:
    """Folder runs are written to: ``$WORKBENCH_REPORTS_DIR``, default ``./reports``."""
    return Path(os.environ.get(REPORTS_DIR_ENV, "reports")).expanduser().resolve()
