"""How a run executes, apart from what it computes.

A benchmark run is called with two objects: a *run spec* (what to compute, stored in the run
card: :mod:`workbench.protocols.specs`) and :class:`ExecutionOptions` (where and how: executor,
workers, run folder, resume, progress bar, data root — none of which changes the numbers).

The runners also accept the older flat keyword calls, e.g.
``run_image_benchmark(backend="sam2", dataset="grabcut", max_clicks=5, run_id="x")``:
:func:`bind_settings` splits such settings by name into the spec and the options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from ..protocols.specs import RunSpec
    from .executors import Executor

_Spec = TypeVar("_Spec", bound="RunSpec")

__all__ = ["ExecutionOptions", "bind_settings"]


@dataclass(frozen=True, kw_only=True)
class ExecutionOptions:
    """Where and how a run executes; not stored in the run spec (results do not depend on it).

    Attributes
    ----------
    executor : {"local", "ray"} or Executor
        Where items run: in this process, or on ``num_workers`` Ray actors (one model each;
        one GPU each when the device is CUDA). See :func:`workbench.runners.make_executor`.
        Default ``"local"``.
    num_workers : int
        Ray workers (ignored by ``"local"``). Default 2.
    reports_root : str, Path or None
        Folder holding run folders; default ``$WORKBENCH_REPORTS_DIR`` or ``./reports``.
    run_id : str or None
        Run folder name under ``reports_root`` (letters, digits, ``._+-``); None: generated
        from the model and the time.
    resume : bool
        Continue the run ``run_id`` (its finished items are kept); its spec must give the same
        settings. Without a run card under ``run_id`` a new run starts. Default False.
    progress : bool
        Show a progress bar. Default True.
    data_root : str, Path or None
        Data root the items are read from; default ``$WORKBENCH_DATA_DIR``. Not stored in the
        run card (the same data may live elsewhere on another machine).
    """

    executor: str | Executor = "local"
    num_workers: int = 2
    reports_root: str | Path | None = None
    run_id: str | None = None
    resume: bool = False
    progress: bool = True
    data_root: str | Path | None = None

    @classmethod
    def names(cls) -> list[str]:
        """The option names."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_settings(cls, base: ExecutionOptions | None = None, caller: str = "", **settings) -> ExecutionOptions:
        """``base`` (default: the defaults) with the options given by name replaced.

        Raises
        ------
        UnknownNameError
            A name is not an option (the message lists them).
        ConfigError
            ``base`` is not an ExecutionOptions.
        """
        if base is not None and not isinstance(base, cls):
            raise ConfigError(
                f"{caller or cls.__name__} takes an ExecutionOptions as its options, got {type(base).__name__}."
            )
        for key in settings:
            if key not in cls.names():
                raise UnknownNameError(f"{caller or cls.__name__} setting", key, cls.names())
        base = base if base is not None else cls()
        return replace(base, **settings) if settings else base


def bind_settings(
    spec_cls: type[_Spec],
    spec: _Spec | None = None,
    options: ExecutionOptions | None = None,
    settings: Mapping[str, Any] | None = None,
    caller: str = "",
) -> tuple[_Spec, ExecutionOptions]:
    """The spec and options of a runner call: ``spec`` and ``options`` as given (defaults when
    None), with flat ``settings`` applied — names of ``spec_cls.setting_names()`` to the spec
    (``spec_cls.from_settings``), names of :class:`ExecutionOptions` to the options.

    Parameters
    ----------
    spec_cls : type
        The spec class the caller takes (it provides ``setting_names()`` and
        ``from_settings(base, **settings)``).
    spec : spec_cls, optional
    options : ExecutionOptions, optional
    settings : mapping, optional
        Flat settings (the caller's ``**settings``).
    caller : str
        Function name for messages.

    Raises
    ------
    UnknownNameError
        A setting is neither a spec setting nor an option (the message lists both).
    ConfigError
        ``spec`` is not a ``spec_cls``, or ``options`` not an ExecutionOptions; any error of
        the spec's checks.
    """
    settings = dict(settings or {})
    where = caller or spec_cls.__name__
    if spec is not None and not isinstance(spec, spec_cls):
        raise ConfigError(
            f"{where} takes a {spec_cls.__name__} as its spec, got {type(spec).__name__} {spec!r}. "
            f"Pass settings by name (e.g. backend=...) or build a {spec_cls.__name__}."
        )
    spec_names, option_names = spec_cls.setting_names(), ExecutionOptions.names()
    for key in settings:
        if key not in spec_names and key not in option_names:
            raise UnknownNameError(f"{where} setting", key, [*spec_names, *option_names])
    spec_part = {k: v for k, v in settings.items() if k in spec_names}
    option_part = {k: v for k, v in settings.items() if k in option_names and k not in spec_names}
    options = ExecutionOptions.from_settings(options, caller=where, **option_part)
    if spec is None or spec_part:
        spec = spec_cls.from_settings(spec, **spec_part)
    return spec, options
