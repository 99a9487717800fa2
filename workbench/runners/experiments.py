"""Experiment folders: several benchmark runs made by one notebook, and where to find them.

An experiment folder ``<reports_root>/<run_id>/`` holds ``experiment.json`` (:class:`Experiment`:
the notebook's parameters, the runs it made, the runs that failed and why, combinations it
skipped, the official checkpoints missing here) and the run folders under ``runs/`` written by
the runners (:func:`~workbench.runners.run_image_benchmark`, :func:`~workbench.runners.run_vos_benchmark`,
:func:`~workbench.runners.volume_runner.run_volume_benchmark`,
:func:`~workbench.runners.run_pvs_benchmark`, looked up by spec kind in
:data:`workbench.runners.registry.RUNNERS`). Used by the survey notebooks
(:mod:`workbench.runners.survey`); report builders read the folders back with
:func:`find_experiments` and :func:`experiment_runs`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from ..config import reports_dir
from ..errors import DataError, WorkbenchError
from ..protocols.specs import ImageRunSpec, PVSRunSpec, RunSpec, VolumeRunSpec, VOSRunSpec
from .card import git_commit, new_run_dir, read_run, write_json
from .executors import BackendSpec, Executor, WorkerPool, make_executor
from .options import ExecutionOptions
from .registry import run_spec

EXPERIMENT_FILE = "experiment.json"

__all__ = [
    "EXPERIMENT_FILE",
    "CachingLocalExecutor",
    "Experiment",
    "experiment_runs",
    "find_experiments",
    "model_slug",
    "read_experiment",
]


def model_slug(i: int, m: dict) -> str:
    """Run-id part naming model ``i`` of an experiment: ``m<i>-<backend>[-<model>][-random]-<size>``."""
    name = f"m{i}-{m['backend']}" + (f"-{m['model']}" if m["model"] else "")
    if m["backend"] != "classical":
        name += ("-random" if m["checkpoint"] == "random" else "") + f"-{m['image_size']}"
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)


class _CachedPool(WorkerPool):
    def __init__(self, backend):
        self.backend, self.info, self.num_workers = backend, backend.info, 1

    def imap_unordered(self, task, items) -> Iterator[dict]:
        for item in items:
            yield task(self.backend, item)


class CachingLocalExecutor(Executor):
    """In-process executor that builds each backend once and reuses it for later runs.

    An experiment makes many runs with the same model (one per dataset, prompt, corruption);
    building a SAM model takes seconds, so the built backend is kept, keyed by its
    :class:`BackendSpec`. Results equal :class:`~workbench.runners.executors.LocalExecutor`'s:
    image tasks set the image and video tasks reset the backend for every item.
    """

    name = "local"
    num_workers = 1

    def __init__(self):
        self._backends: dict[BackendSpec, object] = {}

    @contextlib.contextmanager
    def pool(self, spec: BackendSpec) -> Iterator[WorkerPool]:
        """Yield a pool on the cached backend of ``spec`` (built on first use)."""
        if spec not in self._backends:
            self._backends[spec] = spec.build()
        yield _CachedPool(self._backends[spec])


class Experiment:
    """One experiment folder: ``experiment.json`` plus run folders under ``runs/``.

    Parameters
    ----------
    name : str
        Experiment (notebook) name, e.g. ``"exp_medical"``.
    params : dict
        The notebook's parameters (stored in ``experiment.json``).
    options : ExecutionOptions, optional
        ``run_id``: folder name under ``reports_root`` (generated from ``name`` and the time
        when None; an existing folder is continued: finished runs are reused, runner
        ``resume``); ``reports_root`` (default ``$WORKBENCH_REPORTS_DIR`` or ``./reports``);
        ``executor`` (``"local"`` uses :class:`CachingLocalExecutor`) and ``num_workers`` (Ray);
        ``data_root`` for every run. ``resume`` and ``progress`` are not used.
    missing : list of dict, optional
        Official checkpoints missing here (stored for the report).

    Attributes
    ----------
    dir, runs_dir : Path
    options : ExecutionOptions
        The options of every run (executor opened once, runs under ``runs/``, resumed, no
        progress bar; ``run_id`` set per run).
    record : dict
        Content of ``experiment.json``: ``experiment``, ``run_id``, ``params``, ``started_at``,
        ``git_commit``, ``status`` (running / done), ``wall_time_s``, ``runs`` (run folder
        names), ``failures`` (``{"what", "model", "error"}``), ``skipped`` (``{"what", "model",
        "reason"}``), ``missing_checkpoints``.
    """

    def __init__(
        self,
        name: str,
        params: dict | None = None,
        options: ExecutionOptions | None = None,
        missing: list[dict] | None = None,
    ):
        options = options if options is not None else ExecutionOptions()
        self.run_id, self.dir = new_run_dir(options.run_id, prefix=name, root=options.reports_root)
        self.runs_dir = self.dir / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self.executor: Executor
        if options.executor in (None, "local"):
            self.executor = CachingLocalExecutor()
        else:
            self.executor = make_executor(options.executor, options.num_workers)
        self.options = replace(
            options, executor=self.executor, reports_root=self.runs_dir, run_id=None, resume=True, progress=False
        )
        self._stack = contextlib.ExitStack()
        if isinstance(
            self.executor, contextlib.AbstractContextManager
        ):  # Ray: one cluster session for all the runs (closed by finish)
            self._stack.enter_context(self.executor)
        self._t0 = time.perf_counter()
        self.record = {
            "experiment": name,
            "run_id": self.run_id,
            "params": _jsonable(params or {}),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_commit": git_commit(),
            "status": "running",
            "wall_time_s": 0.0,
            "runs": [],
            "failures": [],
            "skipped": [],
            "missing_checkpoints": list(missing or []),
        }
        self._write()

    def _write(self) -> None:
        write_json(self.dir / EXPERIMENT_FILE, self.record)

    def run(self, what: str, model: dict, run_id: str, make_spec: Callable[[], RunSpec]) -> Path | None:
        """Run ``make_spec()`` into ``runs/<run_id>`` with the runner of its kind (resumed when
        that run exists); a WorkbenchError (also from making the spec) is recorded as a failure
        ``{"what", "model", "error"}`` and None returned."""
        try:
            run_dir = run_spec(make_spec(), replace(self.options, run_id=run_id))
        except WorkbenchError as exc:
            self.record["failures"].append({"what": what, "model": model, "error": f"{type(exc).__name__}: {exc}"})
            self._write()
            return None
        if run_dir.name not in self.record["runs"]:
            self.record["runs"].append(run_dir.name)
        self._write()
        return run_dir

    def image(self, i: int, model: dict, dataset: str, **settings) -> Path | None:
        """An :class:`~workbench.protocols.specs.ImageRunSpec` run of model ``i`` (a
        :func:`~workbench.runners.survey.normalise_models` entry) on ``dataset``; ``settings``
        are other ImageRunSpec fields. Run id ``img-<dataset>-<model slug>[-<corruption><severity>]``."""
        tag = _tag(settings)
        return self.run(
            f"image {dataset}{tag}",
            model,
            f"img-{dataset}-{model_slug(i, model)}{tag}",
            lambda: ImageRunSpec.from_settings(dataset=dataset, **model, **settings),
        )

    def vos(self, i: int, model: dict, prompt: str, **settings) -> Path | None:
        """A :class:`~workbench.protocols.specs.VOSRunSpec` run of model ``i`` with a first-frame
        ``prompt``; SAM (v1) is skipped (no video predictor)."""
        tag = _tag(settings)
        if self._skip_image_only(f"vos {prompt}{tag}", model):
            return None
        return self.run(
            f"vos {prompt}{tag}",
            model,
            f"vos-{prompt}-{model_slug(i, model)}{tag}",
            lambda: VOSRunSpec.from_settings(prompt=prompt, **model, **settings),
        )

    def volume(self, i: int, model: dict, prompt: str = "mask", **settings) -> Path | None:
        """A :class:`~workbench.protocols.specs.VolumeRunSpec` run of model ``i``; SAM (v1) is
        skipped."""
        if self._skip_image_only(f"volumes {prompt}", model):
            return None
        return self.run(
            f"volumes {prompt}",
            model,
            f"vol-{prompt}-{model_slug(i, model)}",
            lambda: VolumeRunSpec.from_settings(prompt=prompt, **model, **settings),
        )

    def pvs(self, i: int, model: dict, mode: str, **settings) -> Path | None:
        """A :class:`~workbench.protocols.specs.PVSRunSpec` run of model ``i`` in ``mode``
        (``"offline"`` / ``"online"``); ``settings`` are other PVSRunSpec fields. Run id
        ``pvs-<mode>-<model slug>[-<policy>]``; SAM (v1) is skipped (no video predictor)."""
        tag = _tag(settings)
        if self._skip_image_only(f"pvs {mode}{tag}", model):
            return None
        return self.run(
            f"pvs {mode}{tag}",
            model,
            f"pvs-{mode}-{model_slug(i, model)}{tag}",
            lambda: PVSRunSpec.from_settings(mode=mode, **model, **settings),
        )

    def _skip_image_only(self, what: str, model: dict) -> bool:
        if model["backend"] != "sam":
            return False
        entry = {"what": what, "model": model, "reason": "SAM (v1) has no video predictor"}
        if entry not in self.record["skipped"]:
            self.record["skipped"].append(entry)
            self._write()
        return True

    def finish(self) -> Experiment:
        """Mark the experiment done (wall time added), release the executor, return it."""
        self._stack.close()
        self.record["status"] = "done"
        self.record["wall_time_s"] = float(self.record["wall_time_s"]) + time.perf_counter() - self._t0
        self._write()
        return self

    def run_dirs(self) -> list[Path]:
        """The run folders of this experiment, in run order."""
        return [self.runs_dir / r for r in self.record["runs"]]


def _tag(settings: dict) -> str:
    """Run-id / label suffix of a run's settings: ``-<corruption><severity>`` for corrupted
    runs, ``-<policy>`` for a tracking policy other than sam2's own, ``-<detector tag>`` for
    detector-prompted runs (:attr:`DetectorSpec.tag <workbench.backends.detectors.DetectorSpec.tag>`)."""
    tag = f"-{settings['corruption']}{settings.get('severity', 0)}" if settings.get("corruption") else ""
    policy = settings.get("policy")
    detector = settings.get("detector")
    tag += f"-{policy}" if policy not in (None, "sam2") else ""
    return tag + (f"-{detector.tag}" if detector is not None else "")


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def read_experiment(folder: str | Path) -> dict:
    """``experiment.json`` of an experiment folder, with ``dir`` (Path) added.

    Raises
    ------
    DataError
        No ``experiment.json`` there (not an experiment folder).
    """
    path = Path(folder) / EXPERIMENT_FILE
    if not path.is_file():
        raise DataError(
            f"{folder} is not an experiment folder (no {EXPERIMENT_FILE}); experiment folders are "
            f"written by the survey notebooks (workbench.runners.survey)."
        )
    return {**json.loads(path.read_text()), "dir": Path(folder)}


def find_experiments(reports_root: str | Path | None = None, latest: bool = True) -> list[Path]:
    """Experiment folders under ``reports_root`` (default ``$WORKBENCH_REPORTS_DIR`` / ``./reports``);
    with ``latest``, only the newest of each experiment name (by start time, then folder name)."""
    root = Path(reports_root) if reports_root is not None else reports_dir()
    found = [p for p in sorted(root.iterdir()) if (p / EXPERIMENT_FILE).is_file()] if root.is_dir() else []
    if not latest:
        return found
    newest: dict[str, tuple] = {}
    for p in found:
        rec = read_experiment(p)
        key = (rec.get("started_at", ""), p.name)
        if rec["experiment"] not in newest or key > newest[rec["experiment"]][0]:
            newest[rec["experiment"]] = (key, p)
    return [v[1] for v in sorted(newest.values(), key=lambda t: t[0])]


def experiment_runs(folders: Sequence[str | Path]) -> list[Path]:
    """Run folders of experiment folders (``runs/<run>`` listed in each ``experiment.json``,
    ones that exist with a readable run card)."""
    out = []
    for f in folders:
        rec = read_experiment(f)
        for name in rec.get("runs", []):
            rd = Path(f) / "runs" / name
            try:
                read_run(rd)
            except WorkbenchError:
                continue
            out.append(rd)
    return out
