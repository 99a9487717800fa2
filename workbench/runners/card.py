"""Run folders and run cards: what produced every number in a report.

A run folder ``reports/<run_id>/`` holds ``run_card.json`` (this module), metric CSVs,
per-frame / per-click JSON and optionally predicted masks.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from ..config import reports_dir
from ..errors import ConfigError, DataError, UnknownNameError
from ..protocols.specs import BACKEND_FIELDS, SPEC_KINDS, RunSpec, spec_from_dict
from ..types import ModelInfo

BACKEND_SETTINGS = ("memory_preset", "video_settings")
"""Keys of ``ModelInfo.extra`` copied into the card's ``backend_settings``: the SAM 2 video
backend's memory preset and the value of every setting in effect
(:mod:`workbench.backends.sam2.settings`)."""

UNTRAINED_BANNER = (
    "UNTRAINED WEIGHTS: this run used randomly initialised weights. Its accuracy numbers are "
    "meaningless (speed numbers are valid)."
)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit(path: Path | None = None) -> str:
    """Commit hash of the workbench checkout (``"unknown"`` outside git), ``+dirty`` if modified."""
    cwd = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+dirty" if dirty else "")) if sha else "unknown"


@dataclass
class RunCard:
    """Everything needed to know what produced a run's numbers.

    Attributes mirror the issue's run card: backend, model, checkpoint file and sha256 (or
    ``"untrained"``), image size, device, torch/sam2 versions, dataset and items, git commit,
    seed and wall time (seconds). ``spec`` is the run spec as data
    (:meth:`workbench.protocols.specs.RunSpec.to_dict`, ``kind`` included); ``kind``,
    ``dataset``, ``params`` (with ``backend_request``) and ``seed`` are derived from it and kept
    (``device`` and ``precision`` are the ones the backend chose, e.g. for ``"auto"``;
    ``backend_settings`` the SAM 2 video settings in effect, :data:`BACKEND_SETTINGS`;
    ``backend_extra`` is the backend's own settings, e.g. a tracking policy with every parameter)
    for the readers of run folders (dashboard, runs index, resume checks). Cards written before
    specs existed have no ``spec`` (see :func:`spec_from_card`). Detector-prompted VOS runs
    (``prompt="detector"``) also have ``detector``: the detector spec with its weights file's
    SHA-256 (:meth:`DetectorSpec.card <workbench.backends.detectors.DetectorSpec.card>`); a
    detector with random weights makes the run ``untrained``.
    """

    run_id: str
    kind: str  # "image", "vos", "volume" or "pvs" (the spec's kind)
    backend: str
    model: str
    checkpoint: str | None
    checkpoint_sha256: str
    untrained: bool
    image_size: int
    device: str
    dataset: str
    items: list[str]
    params: dict = field(default_factory=dict)
    spec: dict | None = None
    seed: int = 0
    precision: str = "n/a"
    backend_settings: dict = field(default_factory=dict)
    backend_extra: dict = field(default_factory=dict)
    detector: dict | None = None
    git_commit: str = field(default_factory=git_commit)
    versions: dict = field(
        default_factory=lambda: {
            d: _version(d)
            for d in (
                "sam2-workbench",
                "sam2",
                "torch",
                "torchvision",
                "transformers",
                "opencv-python-headless",
                "numpy",
            )
        }
    )
    python: str = field(default_factory=platform.python_version)
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    wall_time_s: float = 0.0
    status: str = "running"

    @classmethod
    def from_model(
        cls, run_id: str, info: ModelInfo, spec: RunSpec, items: list[str], params: dict | None = None
    ) -> RunCard:
        """Build a card from a backend's :class:`~workbench.types.ModelInfo` and the run spec.

        ``kind``, ``dataset``, ``seed`` and ``spec`` come from ``spec``; ``params`` default
        ``spec.params()`` (runners add ``backend_request``); ``detector`` from the spec's
        detector (VOS runs with ``prompt="detector"``).

        Raises
        ------
        CheckpointNotFoundError
            The detector's weights file does not exist.
        """
        det = getattr(spec, "detector", None)
        detector = None if det is None else det.card()
        return cls(
            run_id=run_id,
            kind=spec.kind,
            backend=info.backend,
            model=info.model,
            checkpoint=info.checkpoint,
            checkpoint_sha256=info.checkpoint_sha256,
            untrained=bool(info.untrained or (detector is not None and detector["untrained"])),
            image_size=info.image_size,
            device=info.device,
            dataset=spec.dataset,
            items=list(items),
            params=spec.params() if params is None else params,
            spec=spec.to_dict(),
            seed=spec.seed,
            precision=str((info.extra or {}).get("precision", "n/a")),
            backend_settings={k: info.extra[k] for k in BACKEND_SETTINGS if k in (info.extra or {})},
            backend_extra=json.loads(json.dumps(info.extra or {}, default=str)),
            detector=detector,
        )

    @property
    def label(self) -> str:
        """Short name for tables: ``backend/model`` plus ``(UNTRAINED)`` when so."""
        return f"{self.backend}/{self.model}" + (" (UNTRAINED)" if self.untrained else "")

    def write(self, run_dir: Path) -> Path:
        """Write ``run_card.json`` atomically."""
        data = asdict(self)
        if self.untrained:
            data["WARNING"] = UNTRAINED_BANNER
        return write_json(run_dir / "run_card.json", data)


def write_json(path: Path, data) -> Path:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, path)
    return path


_RUN_ID = re.compile(r"^[A-Za-z0-9._+-]+$")


def new_run_dir(run_id: str | None = None, prefix: str = "run", root: str | Path | None = None) -> tuple[str, Path]:
    """Create ``<root>/<run_id>/`` (root default ``reports/``); a run id is generated from
    ``prefix`` and the time when not given.

    Raises
    ------
    ConfigError
        ``run_id`` holds characters other than letters, digits, ``._+-``.
    """
    if run_id is None:
        run_id = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 10000:04d}"
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"Run id {run_id!r} may hold only letters, digits and . _ + - characters.")
    run_dir = Path(root) if root is not None else reports_dir()
    run_dir = run_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_id, run_dir


def read_run(run_dir: str | Path) -> dict:
    """Load a run folder: ``card`` (dict), ``summary`` (dict) and the paths of its files.

    Raises
    ------
    DataError
        The folder holds no ``run_card.json``.
    """
    run_dir = Path(run_dir)
    card = run_dir / "run_card.json"
    if not card.is_file():
        raise DataError(
            f"{run_dir} is not a run folder (no run_card.json). Run folders are written by workbench runners."
        )
    out = {"dir": run_dir, "card": json.loads(card.read_text())}
    summary = run_dir / "summary.json"
    out["summary"] = json.loads(summary.read_text()) if summary.is_file() else {}
    out["files"] = sorted(p.name for p in run_dir.iterdir())
    return out


def spec_from_card(card: dict) -> RunSpec:
    """The run spec of a run card (a ``run_card.json`` dict).

    The card's ``spec`` when it has one. Cards written before specs existed are read once
    here: the spec is rebuilt from ``kind``, ``dataset``, ``seed``, ``params`` (the spec
    fields found there; others take their defaults, which were those runners' defaults) and
    ``params.backend_request``.

    Raises
    ------
    ConfigError
        The card has neither a ``spec`` nor a ``params.backend_request`` (made before runs could
        be resumed), or its settings fail the spec's checks.
    UnknownNameError
        Unknown run kind.
    """
    if card.get("spec"):
        return spec_from_dict(card["spec"])
    params = dict(card.get("params") or {})
    request = params.get("backend_request")
    if not request:
        raise ConfigError(
            f"Run {card.get('run_id')!r} has no backend_request in its run card (made before runs "
            "could be resumed); start it again instead."
        )
    kind = card.get("kind")
    if kind not in SPEC_KINDS:
        raise UnknownNameError("run kind", kind, SPEC_KINDS)
    names = {f for f in SPEC_KINDS[kind].setting_names() if f not in BACKEND_FIELDS}
    data = {k: v for k, v in params.items() if k in names and k != "backend_request"}
    data.update(
        kind=kind,
        dataset=card["dataset"],
        seed=card.get("seed", 0),
        backend_request={k: request[k] for k in BACKEND_FIELDS if k in request},
    )
    return spec_from_dict(data)
