"""Resumable benchmark runs: the ``items.jsonl`` log, run-card checks and the item loop.

Every finished item's record (see :mod:`workbench.runners.items`) is appended to
``<run_dir>/items.jsonl`` — one JSON object per line, written, flushed and fsynced before the
next item is counted as done. A run that was interrupted (Ctrl-C, a killed process, a lost
machine) is continued with ``resume=True`` (or :func:`workbench.runners.resume_run`, which
reads the run spec back from the run card): the run card's settings must equal the new call's, finished items are skipped and the rest run. The run files are
always assembled from the logged records in the dataset's item order, so a resumed run's files
equal an uninterrupted run's (timing fields aside, see ``items.TIMING_FIELDS``).

``execution.json`` records each session (executor, workers, items run, wall time).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..config import reports_dir
from ..errors import ConfigError, ResultsFormatError
from ..protocols.specs import RunSpec
from ..types import ModelInfo
from .card import RunCard, git_commit, new_run_dir, write_json
from .executors import BackendSpec, make_executor
from .options import ExecutionOptions
from .progress import ItemProgress

ITEMS_FILE = "items.jsonl"
EXECUTION_FILE = "execution.json"
MODEL_FIELDS = ("backend", "model", "checkpoint_sha256", "untrained", "image_size", "device", "detector")
"""Run-card fields (from the backend's ModelInfo, and the detector with its weights' SHA-256)
that must match to resume a run."""
_RECORD_KEYS = ("kind", "item", "result", "timing")


# --------------------------------------------------------------------------- items.jsonl
def _scan(path: Path) -> tuple[dict[str, dict], int]:
    """Records by item name, and the byte offset after the last complete line.

    A last line without its newline (a write cut short) is ignored.

    Raises
    ------
    ResultsFormatError
        A complete line is not a record.
    """
    data = path.read_bytes() if path.is_file() else b""
    records: dict[str, dict] = {}
    end = data.rfind(b"\n") + 1  # bytes after this are a partial line
    for n, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise ResultsFormatError(
                f"{path}, line {n}, is not valid JSON ({exc}). Delete that line to run its item again, "
                "or start a new run."
            ) from None
        if not isinstance(rec, dict) or any(k not in rec for k in _RECORD_KEYS):
            raise ResultsFormatError(f"{path}, line {n}, is not an item record (needs keys {list(_RECORD_KEYS)}).")
        records[str(rec["item"])] = rec
    return records, end


def read_records(path: str | Path) -> dict[str, dict]:
    """Read an ``items.jsonl`` log: item name → record (the last one when an item appears twice).

    A partially written last line is ignored.

    Raises
    ------
    ResultsFormatError
        A complete line is not a JSON item record.
    """
    return _scan(Path(path))[0]


class ItemLog:
    """Append-only ``items.jsonl`` of one run.

    Parameters
    ----------
    path : Path
    fresh : bool
        Start empty (a new run); else keep the records there (a partial last line is cut off
        so that the next record starts on its own line).
    """

    def __init__(self, path: Path, fresh: bool):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            self.records: dict[str, dict] = {}
            self.path.write_bytes(b"")
        else:
            self.records, end = _scan(self.path)
            if self.path.is_file() and self.path.stat().st_size != end:
                with self.path.open("r+b") as fh:
                    fh.truncate(end)

    def append(self, record: dict) -> dict:
        """Append ``record`` (one line; flushed and fsynced) and return it as read back from
        JSON, so that fresh and resumed runs assemble identical values."""
        line = json.dumps(record, default=float)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        rec = json.loads(line)
        self.records[str(rec["item"])] = rec
        return rec


# --------------------------------------------------------------------------- run cards
def _norm(value):
    return json.loads(json.dumps(value, default=float))


def _differences(prior: dict, now: dict, keys: Sequence[str]) -> list[str]:
    out = []
    for key in keys:
        a, b = _norm(prior.get(key)), _norm(now.get(key))
        if key == "params":
            a = {k: v for k, v in (a or {}).items() if k != "backend_request"}
            b = {k: v for k, v in (b or {}).items() if k != "backend_request"}
            out += [
                f"params.{k}: run has {a.get(k)!r}, now {b.get(k)!r}"
                for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k)
            ]
        elif a != b:
            out.append(f"{key}: run has {a!r}, now {b!r}")
    return out


def _refuse(run_id: str, diffs: list[str]) -> ConfigError:
    return ConfigError(
        f"Cannot resume run {run_id!r}: it was made with different settings — "
        + "; ".join(diffs)
        + ". Resume with the run's own settings (workbench.runners.resume_run / "
        "`workbench report --resume RUN_ID` read them from its run card), or start a new run id."
    )


def card_params(spec: RunSpec) -> dict:
    """The run card ``params`` of a spec: :meth:`RunSpec.params` plus ``backend_request``
    (the :class:`BackendSpec` the workers build, as a dict)."""
    return {**spec.params(), "backend_request": BackendSpec.for_run(spec).request()}


def load_prior(plan: RunPlan, options: ExecutionOptions) -> dict | None:
    """The existing run card to continue, checked before any model is loaded.

    Returns None for a fresh run (``options.resume`` False, or no run card under
    ``options.run_id`` yet).

    Raises
    ------
    ConfigError
        ``resume`` without ``run_id``, or the run's kind, dataset, items, params or seed differ
        from the plan's spec.
    """
    if not options.resume:
        return None
    run_id = options.run_id
    if run_id is None:
        raise ConfigError("resume=True needs run_id: the name of the run folder to continue (reports/<run_id>).")
    root = Path(options.reports_root) if options.reports_root is not None else reports_dir()
    card_path = root / run_id / "run_card.json"
    if not card_path.is_file():
        return None
    prior = json.loads(card_path.read_text())
    spec = plan.spec
    now = {
        "kind": spec.kind,
        "dataset": spec.dataset,
        "items": plan.names,
        "params": card_params(spec),
        "seed": spec.seed,
    }
    diffs = _differences(prior, now, list(now))
    if diffs:
        raise _refuse(run_id, diffs)
    return prior


def _record_session(run_dir: Path, session: dict) -> None:
    path = run_dir / EXECUTION_FILE
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        data = {}
    data.setdefault("sessions", []).append(session)
    write_json(path, data)


# --------------------------------------------------------------------------- the item loop
def absolute_item(item):
    """The item with every path made absolute (workers may run in another directory)."""
    if not hasattr(item, "__dataclass_fields__"):
        return item
    paths = {
        f.name: Path(getattr(item, f.name)).resolve() for f in fields(item) if isinstance(getattr(item, f.name), Path)
    }
    return replace(item, **paths) if paths else item


@dataclass
class RunPlan:
    """What a runner asks :func:`run_items` to do.

    Attributes
    ----------
    spec : RunSpec
        The run spec (gives the card's ``kind``, ``dataset``, ``params``, ``seed``, ``spec`` and
        the backend the workers build).
    items : list
        Dataset items (VideoItem / ImageItem / VolumeItem), in dataset order.
    names : list of str
        Their names (run card ``items``), same order.
    make_task : callable
        ``make_task(run_dir: str) -> task`` (a picklable ``task(backend, item) -> record``).
    prefix : callable
        ``prefix(info: ModelInfo) -> str`` for generated run ids.
    desc : callable
        ``desc(info) -> str`` progress-bar label.
    """

    spec: RunSpec
    items: list
    names: list[str]
    make_task: Callable[[str], Callable]
    prefix: Callable[[ModelInfo], str]
    desc: Callable[[ModelInfo], str]


def run_items(
    plan: RunPlan, assemble: Callable[[Path, RunCard, list[dict]], None], options: ExecutionOptions | None = None
) -> Path:
    """Run every unfinished item of ``plan`` as ``options`` say (executor, workers, run folder,
    resume, progress), log each record, then call ``assemble(run_dir, card, records)`` with
    the records in dataset order.

    The card is written with status ``running`` first, ``done`` at the end; ``interrupted``
    (KeyboardInterrupt) or ``failed`` when an error stops the run (it can then be resumed).

    Raises
    ------
    ConfigError
        Bad resume request or settings that differ from the run being resumed.
    WorkbenchError
        Whatever a task raised (data, prompt, backend errors).
    """
    options = options if options is not None else ExecutionOptions()
    t0 = time.perf_counter()
    spec = plan.spec
    params = card_params(spec)
    prior = load_prior(plan, options)
    ex = make_executor(options.executor, options.num_workers)
    card = run_dir = None
    session = {
        **ex.describe(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "resumed": prior is not None,
        "git_commit": git_commit(),
    }
    try:
        with ex.pool(BackendSpec.for_run(spec)) as pool:
            info = pool.info
            run_id, run_dir = new_run_dir(options.run_id, prefix=plan.prefix(info), root=options.reports_root)
            new = RunCard.from_model(run_id, info, spec, plan.names, params)
            if prior is not None:
                diffs = _differences(prior, asdict(new), MODEL_FIELDS)
                if diffs:
                    raise _refuse(run_id, diffs)  # before `card` is set: the run folder stays untouched
                new.started_at = prior.get("started_at", new.started_at)
                new.wall_time_s = float(prior.get("wall_time_s") or 0.0)
                if prior.get("git_commit") != new.git_commit:
                    warnings.warn(
                        f"Run {run_id} was started at commit {prior.get('git_commit')} and is resumed at "
                        f"{new.git_commit}; its items come from both.",
                        stacklevel=3,
                    )
                new.git_commit = prior.get("git_commit", new.git_commit)
            card = new
            card.write(run_dir)
            log = ItemLog(run_dir / ITEMS_FILE, fresh=prior is None)
            done = {n for n in plan.names if n in log.records}
            todo = [absolute_item(it) for it, n in zip(plan.items, plan.names) if n not in done]
            session.update(items_reused=len(done), items_run=0)
            bar = ItemProgress(len(plan.names), initial=len(done), desc=plan.desc(info), enabled=options.progress)
            with bar:
                for record in pool.imap_unordered(plan.make_task(str(run_dir.resolve())), todo):
                    log.append(record)
                    session["items_run"] += 1
                    bar.update(1)
        records = [log.records[n] for n in plan.names]
        assemble(run_dir, card, records)
    except BaseException as exc:
        if card is not None and run_dir is not None:
            card.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            _finish(run_dir, card, session, t0)
        raise
    card.status = "done"
    _finish(run_dir, card, session, t0)
    return run_dir


def _finish(run_dir: Path, card: RunCard, session: dict, t0: float) -> None:
    wall = time.perf_counter() - t0
    card.wall_time_s = float(card.wall_time_s or 0.0) + wall
    card.write(run_dir)
    _record_session(run_dir, {**session, "wall_s": wall, "status": card.status})


__all__ = [
    "EXECUTION_FILE",
    "ITEMS_FILE",
    "ItemLog",
    "RunPlan",
    "card_params",
    "load_prior",
    "read_records",
    "run_items",
]
