"""Runners by spec kind, running a spec, and resuming a run from its run card.

:data:`RUNNERS` maps a run spec's ``kind`` (:data:`workbench.protocols.specs.SPEC_KINDS`) to
the runner that executes it. Resuming a run is reading its spec back from ``run_card.json``
(:func:`workbench.runners.card.spec_from_card`) and calling the runner of its kind with
``resume=True``; nothing else of the run's settings is re-typed.

This module imports the runners; they do not import it (``workbench.runners`` has no import
cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..config import reports_dir
from ..errors import UnknownNameError
from ..protocols.specs import RunSpec
from .card import read_run, spec_from_card
from .image_runner import run_image_benchmark
from .options import ExecutionOptions
from .pvs_runner import run_pvs_benchmark
from .volume_runner import run_volume_benchmark
from .vos_runner import run_vos_benchmark

__all__ = ["RUNNERS", "resume_run", "run_spec", "runner_for"]

RUNNERS: dict[str, Callable[..., Path]] = {
    "image": run_image_benchmark,
    "vos": run_vos_benchmark,
    "volume": run_volume_benchmark,
    "pvs": run_pvs_benchmark,
}
"""Runner by spec kind: each is called as ``runner(spec, options)``."""


def runner_for(kind: str) -> Callable[..., Path]:
    """The runner of spec ``kind``.

    Raises
    ------
    UnknownNameError
        ``kind`` is not a key of :data:`RUNNERS`.
    """
    if kind not in RUNNERS:
        raise UnknownNameError("run kind", kind, RUNNERS)
    return RUNNERS[kind]


def run_spec(spec: RunSpec, options: ExecutionOptions | None = None) -> Path:
    """Run ``spec`` with the runner of its kind; returns the run folder.

    Raises
    ------
    UnknownNameError
        No runner for the spec's kind.
    WorkbenchError
        As the runner raises.
    """
    return runner_for(spec.kind)(spec, options)


def resume_run(run_id: str, options: ExecutionOptions | None = None, **settings) -> Path:
    """Continue an interrupted run with the spec stored in its run card.

    Parameters
    ----------
    run_id : str
        Run folder name under ``options.reports_root`` (default ``reports/``).
    options : ExecutionOptions, optional
        Where the remaining items run (executor and workers may differ from the first
        session's), progress bar, ``data_root`` (not stored in the card; default
        ``$WORKBENCH_DATA_DIR``). ``run_id`` and ``resume=True`` are set here.
    **settings
        :class:`ExecutionOptions` names as keywords (``reports_root=``, ``data_root=``,
        ``executor=``, ``num_workers=``, ``progress=``), replacing those of ``options``.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    DataError
        No run folder of that name.
    ConfigError
        The run card lacks the settings needed to resume (made by an older workbench), or a
        setting is not an execution option.
    UnknownNameError
        The card's kind has no runner.
    """
    options = ExecutionOptions.from_settings(options, caller="resume_run", **settings)
    root = Path(options.reports_root) if options.reports_root is not None else reports_dir()
    spec = spec_from_card(read_run(root / run_id)["card"])
    options = replace(options, reports_root=root, run_id=run_id, resume=True)
    return run_spec(spec, options)
