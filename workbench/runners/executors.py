"""Executors: where the per-item tasks of a benchmark run (one VOS sequence, one image) run.

A run is a list of independent items. Each item is one pure task
``task(backend, item) -> record`` (see :mod:`workbench.runners.items`): it needs a backend
(a loaded model) and returns a JSON-serialisable record. An executor opens a *pool* of workers,
each of which builds the backend ONCE from a picklable :class:`BackendSpec`, and streams the
records back as items finish, in any order; the runner stores them and assembles the run files
in the dataset's item order, so results never depend on the executor or on the order of
completion.

* :class:`LocalExecutor` — in this process, one item after the other.
* :class:`RayExecutor` — ``num_workers`` Ray actors (one backend each); on a cluster with GPUs,
  each actor gets one GPU (a share of one when there are fewer GPUs than workers). Workers must
  see the data and the run folder at the same paths (same machine, or a shared file system).

``torch`` is never imported here: GPU presence is read from Ray's cluster resources.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..backends.sam2.settings import SAM2VideoSettings
from ..errors import BackendError, ConfigError, UnknownNameError
from ..types import ModelInfo

if TYPE_CHECKING:
    from ..protocols.specs import RunSpec

EXECUTORS = ("local", "ray")
"""Executor names accepted by :func:`make_executor` (and ``--executor`` on the command line)."""

Task = Callable[[Any, Any], dict]
"""``task(backend, item) -> record``: a picklable callable (module-level class instance)."""


@dataclass(frozen=True)
class BackendSpec:
    """What a worker needs to build its backend: the arguments of
    :func:`workbench.backends.make_image_backend` / :func:`~workbench.backends.make_video_backend`.

    Attributes
    ----------
    kind : {"image", "video"}
    settings : tuple of (name, JSON text)
        Further factory settings from the run spec (:meth:`RunSpec.backend_settings`, e.g. a
        tracking policy), kept as JSON text so the spec stays hashable (executors cache
        backends by it) and picklable.
    backend, model, checkpoint, device, image_size, precision
        As the factories take them (``device`` a torch device string, ``image_size`` pixels);
        see :class:`workbench.protocols.specs.BackendRequest`.
    video_settings : SAM2VideoSettings or None
        SAM 2's memory/runtime settings (the factory's ``memory_preset``), from the run spec's
        ``video_settings`` (VOS runs); None for sam2's own (the official preset).
    """

    kind: str
    backend: str = "classical"
    model: str | None = None
    checkpoint: str | None = None
    device: str = "auto"
    image_size: int | None = 1024
    precision: str = "auto"
    video_settings: SAM2VideoSettings | None = None
    settings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def for_run(cls, spec: RunSpec) -> BackendSpec:
        """The backend of a run spec: its ``backend_kind``, its ``backend_request``, when it has
        non-default ones its SAM 2 ``video_settings``, and its other factory settings
        (:meth:`RunSpec.backend_settings`, e.g. a tracking policy)."""
        settings = getattr(spec, "video_settings", None)
        settings = None if settings is None or settings.is_default else settings
        extra = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in spec.backend_settings().items()))
        return cls(spec.backend_kind, **asdict(spec.backend_request), video_settings=settings, settings=extra)

    def build(self):
        """Build the backend (loads the model; call once per worker).

        Raises
        ------
        UnknownNameError, CheckpointError, BackendError
            As the backend factories raise them.
        """
        from ..backends import make_image_backend, make_video_backend

        if self.kind not in ("image", "video"):
            raise UnknownNameError("backend kind", self.kind, ["image", "video"])
        make = make_image_backend if self.kind == "image" else make_video_backend
        extra = {} if self.video_settings is None else {"memory_preset": self.video_settings}
        return make(
            self.backend,
            model=self.model,
            checkpoint=self.checkpoint,
            device=self.device,
            image_size=self.image_size,
            precision=self.precision,
            **extra,
            **{k: json.loads(v) for k, v in self.settings},
        )

    def request(self) -> dict:
        """The arguments as a JSON-serialisable dict (stored in the run card to resume a run);
        ``video_settings`` as its preset and overrides, left out when None."""
        out = asdict(self)
        out.pop("video_settings")
        if self.video_settings is not None:
            out["video_settings"] = self.video_settings.to_dict()
        return out

    @property
    def wants_gpu(self) -> bool:
        """True when the backend runs on a CUDA device (``"auto"``: when this machine has one)."""
        if str(self.device).strip().lower() == "auto":
            from ..backends.runtime import cuda_available

            return cuda_available()
        return str(self.device).startswith("cuda")


class WorkerPool:
    """Workers holding a built backend. Use :meth:`Executor.pool` to get one.

    Attributes
    ----------
    info : ModelInfo
        The backend's model information (from the first worker).
    num_workers : int
    """

    info: ModelInfo
    num_workers: int = 1

    def imap_unordered(self, task: Task, items: Iterable) -> Iterator[dict]:
        """Run ``task(backend, item)`` on every item; yield the records as they finish."""
        raise NotImplementedError


class Executor:
    """Base class: ``name`` for run records, :meth:`pool` to open workers."""

    name = "executor"
    num_workers = 1

    def pool(self, spec: BackendSpec) -> contextlib.AbstractContextManager[WorkerPool]:
        raise NotImplementedError

    def describe(self) -> dict:
        """``{"executor": name, "num_workers": n}`` for the run's ``execution.json``."""
        return {"executor": self.name, "num_workers": self.num_workers}


# --------------------------------------------------------------------------- local
class _LocalPool(WorkerPool):
    def __init__(self, backend):
        self.backend = backend
        self.info = backend.info
        self.num_workers = 1

    def imap_unordered(self, task: Task, items: Iterable) -> Iterator[dict]:
        for item in items:
            yield task(self.backend, item)


class LocalExecutor(Executor):
    """Run every item in this process, one after the other (the backend is built once)."""

    name = "local"
    num_workers = 1

    @contextlib.contextmanager
    def pool(self, spec: BackendSpec) -> Iterator[WorkerPool]:
        """Build the backend from ``spec`` and yield a pool that runs tasks in process."""
        yield _LocalPool(spec.build())


# --------------------------------------------------------------------------- Ray
class _Failure:
    """An exception raised in a worker, carried back as a plain value.

    Exceptions are pickled as ``cls(*args)``, which fails for classes whose constructor takes
    other arguments (e.g. ``UnknownNameError(kind, name, valid)``); Ray would then hand back an
    ``UnserializableException``. The class (by module and name), ``args``, attributes and the
    worker's traceback travel instead, and :meth:`rebuild` makes the same exception again.
    """

    def __init__(self, exc: BaseException):
        cls = type(exc)
        self.module, self.qualname = cls.__module__, cls.__qualname__
        self.args = tuple(_plain(a) for a in exc.args)
        self.state = {k: _plain(v) for k, v in vars(exc).items() if k != "__notes__"}
        self.message = str(exc)
        self.traceback = "".join(traceback.format_exception(exc))
        self.pid = os.getpid()

    def rebuild(self) -> BaseException:
        try:
            cls = getattr(importlib.import_module(self.module), self.qualname)
            exc = cls.__new__(cls)
            exc.args = self.args
            exc.__dict__.update(self.state)
        except Exception:  # class not importable here: keep the message
            exc = BackendError(f"{self.qualname}: {self.message}")
        exc.add_note(f"(raised on Ray worker pid {self.pid})\n{self.traceback}")
        return exc


def _plain(value):
    """``value`` when it pickles, else its ``repr`` (exception arguments may hold anything)."""
    try:
        pickle.dumps(value)
        return value
    except Exception:
        return repr(value)


class BackendWorker:
    """Body of a Ray actor: builds the backend once, then runs tasks on it.

    Module level so that Ray imports it by reference in the worker processes. The backend is
    built by the first call (not in ``__init__``), so that a build error (e.g. a missing
    checkpoint) reaches the driver like any other. Exceptions come back as :class:`_Failure`
    values and are raised again, with their original class, in the driver.
    """

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self.backend = None

    def _backend(self):
        if self.backend is None:
            self.backend = self.spec.build()
        return self.backend

    def info(self) -> ModelInfo | _Failure:
        try:
            return self._backend().info
        except Exception as exc:
            return _Failure(exc)

    def run(self, task: Task, item) -> dict | _Failure:
        try:
            return task(self._backend(), item)
        except Exception as exc:
            return _Failure(exc)


def gpus_per_worker(spec: BackendSpec, num_workers: int, cluster_gpus: float) -> float:
    """GPUs to reserve for each actor: 0 for CPU backends or without GPUs, 1 when there are at
    least as many GPUs as workers, else an equal share (workers then share GPUs)."""
    if not spec.wants_gpu or cluster_gpus <= 0:
        return 0.0
    return 1.0 if cluster_gpus >= num_workers else cluster_gpus / num_workers


class RayExecutor(Executor):
    """Run items on ``num_workers`` Ray actors, each holding its own backend (model loaded once
    per worker).

    Parameters
    ----------
    num_workers : int
        Actors (parallel items). Each reserves ``cpus_per_worker`` CPUs, and 1 GPU when the
        backend's device is CUDA and the cluster has enough GPUs (a share otherwise).
    address : str, optional
        Ray cluster address (``"auto"``, ``"ray://host:10001"``); default ``$RAY_ADDRESS`` or a
        new local Ray instance with ``num_workers`` CPUs. Workers must see the data and the
        run folder at the same paths.
    cpus_per_worker : int, optional
        CPUs reserved per actor; Ray also sets the actor's ``OMP_NUM_THREADS`` (torch's CPU
        threads) to it. Default: the Ray cluster's CPUs divided among the workers (a local Ray
        instance is started with all of this machine's cores).
    init_kwargs : dict, optional
        More arguments for ``ray.init``.
    quiet : bool
        Hide Ray's warnings while it starts (errors still show).

    Attributes
    ----------
    resource_wait_s : float
        Seconds a pool waits for free CPUs/GPUs before refusing (default 30).

    Ray is started on first use (quietly: no dashboard, worker logs not forwarded, no usage
    statistics) and shut down after the run, unless it was already running or the executor is
    used as a context manager (``with RayExecutor(2) as ex: ...`` keeps Ray up for several
    runs).

    Raises
    ------
    ConfigError
        ``num_workers`` < 1, or Ray is not installed.
    """

    name = "ray"

    def __init__(
        self,
        num_workers: int = 2,
        address: str | None = None,
        cpus_per_worker: int | None = None,
        init_kwargs: dict | None = None,
        quiet: bool = True,
    ):
        if int(num_workers) < 1:
            raise ConfigError(f"num_workers must be at least 1, got {num_workers}.")
        if cpus_per_worker is not None and int(cpus_per_worker) < 1:
            raise ConfigError(f"cpus_per_worker must be at least 1, got {cpus_per_worker}.")
        self.num_workers = int(num_workers)
        self.cpus_per_worker = None if cpus_per_worker is None else int(cpus_per_worker)
        self.quiet = bool(quiet)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False
        self._depth = 0
        self.resource_wait_s = 30.0

    def describe(self) -> dict:
        return {**super().describe(), "address": self.address or "local", "cpus_per_worker": self.cpus_per_worker}

    def _cpus(self, cluster_cpus: float) -> int:
        """CPUs per actor: as given, else the cluster's CPUs shared out (at least 1).

        Raises
        ------
        ConfigError
            The actors would need more CPUs than the cluster has (they would wait forever).
        """
        per = self.cpus_per_worker or max(1, int(cluster_cpus // self.num_workers))
        if per * self.num_workers > cluster_cpus:
            raise ConfigError(
                f"{self.num_workers} Ray workers x {per} CPUs need {per * self.num_workers} CPUs but the Ray "
                f"cluster has {cluster_cpus:g}; use fewer workers or a smaller cpus_per_worker."
            )
        return per

    # -- Ray lifetime
    def _ray(self):
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a declared dependency
            raise ConfigError("The Ray executor needs the `ray` package: pip install 'ray>=2.9'.") from exc
        return ray

    def start(self) -> None:
        """Start (or connect to) Ray unless it is running in this process."""
        ray = self._ray()
        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
        kwargs = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
            "ignore_reinit_error": True,
            **self.init_kwargs,
        }
        if self.address:
            kwargs["address"] = self.address
        else:
            per = self.cpus_per_worker or max(1, (os.cpu_count() or 1) // self.num_workers)
            kwargs.setdefault("num_cpus", self.num_workers * per)
        ray_logger = logging.getLogger("ray")
        level = ray_logger.level
        if self.quiet:  # Ray's start-up notices (e.g. on token authentication) are not ours to show
            ray_logger.setLevel(logging.ERROR)
        try:
            ray.init(**kwargs)
        finally:
            ray_logger.setLevel(level)
        self._owns_ray = True

    def shutdown(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._owns_ray:
            self._ray().shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        self.start()
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.shutdown()

    @contextlib.contextmanager
    def pool(self, spec: BackendSpec) -> Iterator[WorkerPool]:
        """Start ``num_workers`` actors that each build the backend from ``spec``.

        Raises
        ------
        WorkbenchError
            The error a worker raised while building its backend (e.g. CheckpointError).
        """
        with self:
            ray = self._ray()
            resources = ray.cluster_resources()
            gpus = gpus_per_worker(spec, self.num_workers, float(resources.get("GPU", 0)))
            cpus = self._cpus(float(resources.get("CPU", 0)))
            self._wait_for_resources(cpus * self.num_workers, gpus * self.num_workers)
            actor_cls = ray.remote(BackendWorker).options(num_cpus=cpus, num_gpus=gpus, max_restarts=0)
            actors = [actor_cls.remote(spec) for _ in range(self.num_workers)]
            try:
                infos = [self._get(a.info.remote(), "starting a worker") for a in actors]
                yield _RayPool(self, actors, infos[0])
            finally:
                for a in actors:
                    with contextlib.suppress(Exception):
                        ray.kill(a)

    def _wait_for_resources(self, cpus: float, gpus: float) -> None:
        """Wait (up to ``resource_wait_s``) until the cluster has ``cpus`` and ``gpus`` free:
        actors of a pool that just closed release theirs a moment later, and actors that
        cannot be placed would otherwise wait forever.

        Raises
        ------
        ConfigError
            Not enough free CPUs/GPUs in time (other Ray work holds them).
        """
        ray = self._ray()
        deadline = time.monotonic() + self.resource_wait_s
        while True:
            free = ray.available_resources()
            have_cpu, have_gpu = float(free.get("CPU", 0)), float(free.get("GPU", 0))
            if have_cpu >= cpus - 1e-9 and have_gpu >= gpus - 1e-9:
                return
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"The Ray cluster has {have_cpu:g} CPUs and {have_gpu:g} GPUs free; {self.num_workers} workers "
                    f"need {cpus:g} CPUs and {gpus:g} GPUs. Other Ray work (another open pool?) holds them: wait "
                    "for it, or use fewer workers / a smaller cpus_per_worker."
                )
            time.sleep(0.1)

    def _get(self, ref, what: str):
        ray = self._ray()
        try:
            value = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            raise BackendError(
                f"A Ray worker died while {what}: {exc}. Check memory, and the worker "
                "logs under /tmp/ray/session_latest/logs."
            ) from exc
        if isinstance(value, _Failure):
            raise value.rebuild()
        return value


class _RayPool(WorkerPool):
    def __init__(self, executor: RayExecutor, actors: list, info: ModelInfo):
        self.executor, self.actors, self.info = executor, actors, info
        self.num_workers = len(actors)

    def imap_unordered(self, task: Task, items: Iterable) -> Iterator[dict]:
        """One item in flight per actor; the next item goes to whichever actor finishes first."""
        ray = self.executor._ray()
        queue = iter(items)
        running: dict = {}  # ObjectRef -> actor
        try:
            for actor in self.actors:
                item = next(queue, _END)
                if item is _END:
                    break
                running[actor.run.remote(task, item)] = actor
            while running:
                (ref,), _ = ray.wait(list(running), num_returns=1)
                actor = running.pop(ref)
                record = self.executor._get(ref, "running an item")
                item = next(queue, _END)
                if item is not _END:
                    running[actor.run.remote(task, item)] = actor
                yield record
        finally:
            for ref in running:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)


_END = object()


def make_executor(
    executor: str | Executor | None = "local", num_workers: int = 2, address: str | None = None
) -> Executor:
    """An executor by name.

    Parameters
    ----------
    executor : {"local", "ray"} or Executor
        An :class:`Executor` instance is returned as is; None means "local".
    num_workers : int
        Ray actors (ignored by "local").
    address : str, optional
        Ray cluster address (default ``$RAY_ADDRESS`` or a local instance).

    Raises
    ------
    UnknownNameError
        Unknown executor name.
    """
    if isinstance(executor, Executor):
        return executor
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        return RayExecutor(num_workers=num_workers, address=address)
    raise UnknownNameError("executor", executor, EXECUTORS)


__all__ = [
    "EXECUTORS",
    "BackendSpec",
    "BackendWorker",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "WorkerPool",
    "gpus_per_worker",
    "make_executor",
]
