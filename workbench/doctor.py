"""``workbench doctor``: one screen of what a user needs to know before starting.

Each line is a :class:`Check` — what was looked at, whether it is fine, what was found and,
when it is not fine, what to do. Nothing here changes the machine. An application-layer module
(beside :mod:`workbench.cli`): it reads the runtime through :mod:`workbench.backends.runtime`
and the checkpoint registry, the data folder through :mod:`workbench.io`, and installed
packages through :mod:`importlib.metadata`.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .backends.runtime import installed_version
from .config import CHECKPOINT_DIR_ENV, DATA_DIR_ENV, checkpoint_dir, data_dir
from .errors import WorkbenchError

LAB_EXTENSIONS = {
    "ipywidgets": "@jupyter-widgets/jupyterlab-manager",
    "ipycanvas": "ipycanvas",
    "anywidget": "anywidget",
}
"""Python distribution -> the JupyterLab front-end extension it must ship for widgets to draw."""


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    Attributes
    ----------
    name : str
        What was checked ("torch", "GPU", "checkpoints sam2", ...).
    ok : bool or None
        True fine, False a problem, None informational (works, but worth knowing).
    detail : str
        What was found.
    fix : str
        What to do when ``ok`` is not True ("" otherwise).
    """

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def check_python() -> list[Check]:
    """Python must be 3.11 (the pinned torch/sam2 wheels are built for it)."""
    v = platform.python_version()
    ok = sys.version_info[:2] == (3, 11)
    return [
        Check(
            "python",
            ok,
            f"{v} at {sys.executable}",
            "" if ok else "Use Python 3.11: `make demo` builds .venv/ with python3.11.",
        )
    ]


def check_torch() -> list[Check]:
    """torch, CUDA device, bf16 support and sam2's optional CUDA extension."""
    from .backends.runtime import torch_facts

    f = torch_facts()
    if f.torch is None:
        return [Check("torch", False, "not installed", "Run `make install` (installs the pinned torch/torchvision).")]
    out = [
        Check(
            "torch",
            True,
            f"torch {f.torch}, torchvision {f.torchvision}, built for CUDA {f.cuda or '-'}, {f.threads} CPU threads",
        )
    ]
    if f.gpu is None:
        out.append(
            Check(
                "GPU",
                None,
                "none visible: device='auto' runs on the CPU (SAM 2 at 1024 px takes seconds per frame)",
                "For speed, start the Jupyter kernel on a machine with a CUDA GPU, "
                "or use image_size=512 / the classical backend on CPU.",
            )
        )
    else:
        gib = (f.gpu_memory_bytes or 0) / 2**30
        out.append(
            Check(
                "GPU",
                True,
                f"{f.gpu}, {gib:.0f} GiB, bf16 {'yes' if f.bf16 else 'no'}: device='auto' "
                f"uses it with precision {'bfloat16' if f.bf16 else 'float32'}",
            )
        )
    if f.sam2 is None:
        out.append(Check("sam2", False, "not installed", "Run `make install` (builds sam2 from its sdist)."))
    else:
        out.append(
            Check(
                "sam2",
                True if f.sam2_cuda_extension else None,
                f"sam2 {f.sam2}, CUDA extension {'built' if f.sam2_cuda_extension else 'not built'}",
                ""
                if f.sam2_cuda_extension
                else "Optional: only hole filling of masks uses it; on a GPU "
                "machine `SAM2_BUILD_CUDA=1 pip install --no-build-isolation --force-reinstall sam2` builds it.",
            )
        )
    return out


def check_checkpoints(folder: str | Path | None = None) -> list[Check]:
    """Checkpoints present in the checkpoint folder, one line per model family of the registry."""
    from .backends import registry

    base = Path(folder) if folder is not None else checkpoint_dir()
    rows = registry.checkpoint_table(base, backend=None)
    out = []
    for family in sorted({r["family"] for r in rows}):
        fam = [r for r in rows if r["family"] == family]
        present = [Path(r["file"]).name for r in fam if r["present"]]
        detail = f"{len(present)} of {len(fam)} in {base}" + (f": {', '.join(present)}" if present else "")
        fix = (
            ""
            if present
            else (
                f"Put official checkpoint files in {base} (or set {CHECKPOINT_DIR_ENV}); "
                "`workbench checkpoints list` shows names and URLs. Without them the "
                "workbench runs the weight-free classical backend."
            )
        )
        out.append(Check(f"checkpoints {family}", True if present else None, detail, fix))
    return out


def check_data() -> list[Check]:
    """The data folder (``$WORKBENCH_DATA_DIR``) and the datasets it holds."""
    try:
        root = data_dir()
    except WorkbenchError as exc:
        return [Check("data", False, str(exc), f"Set {DATA_DIR_ENV} to an existing folder, or unset it.")]
    if root is None:
        return [
            Check(
                "data",
                None,
                f"{DATA_DIR_ENV} is not set: demos use the packaged samples",
                f"export {DATA_DIR_ENV}=/path/to/data (DAVIS-format videos, image sets; see the data README).",
            )
        ]
    from .io.datasets import find_davis_root, list_image_sets
    from .io.medical import MODALITIES

    found = []
    try:
        davis = find_davis_root(root)
        found.append(
            f"DAVIS ({davis.name}, {sum(1 for p in (davis / 'JPEGImages').rglob('*') if p.is_dir() and any(p.glob('*.jpg')))} sequences)"
        )
    except WorkbenchError:
        pass
    found += [f"images/{n}" for n in list_image_sets(root)]
    found += [f"medical/{n}" for n in MODALITIES if (root / "medical" / n).is_dir()]
    ok = True if found else None
    return [
        Check(
            "data",
            ok,
            f"{root}: " + (", ".join(found) if found else "no known dataset"),
            "" if found else "Lay out data as the data README describes (DAVIS JPEGImages/Annotations, images/<set>).",
        )
    ]


def _lab_extensions() -> dict[str, bool] | None:
    """Installed JupyterLab extensions -> enabled, from ``jupyter labextension list`` (None if it cannot run)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_labextension_list(out.stdout + out.stderr)


def parse_labextension_list(text: str) -> dict[str, bool]:
    """``{extension name: enabled and OK}`` from the text of ``jupyter labextension list``
    (colour codes removed; lines look like ``name vX.Y.Z enabled OK (python, dist)``)."""
    found: dict[str, bool] = {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
        m = re.match(r"\s+(\S+) v\S+ (enabled|disabled)\s*(OK|X)?", line)
        if m:
            found[m.group(1)] = m.group(2) == "enabled" and m.group(3) == "OK"
    return found


def check_jupyter(list_extensions: Callable[[], dict[str, bool] | None] = _lab_extensions) -> list[Check]:
    """JupyterLab and the widget front-end extensions (installed and enabled)."""
    lab = installed_version("jupyterlab")
    if lab is None:
        return [Check("jupyterlab", False, "not installed", "Run `make install`.")]
    out = [Check("jupyterlab", True, f"jupyterlab {lab}")]
    exts = list_extensions()
    for dist, ext in LAB_EXTENSIONS.items():
        v = installed_version(dist)
        if v is None:
            out.append(Check(dist, False, "not installed", "Run `make install`."))
            continue
        if exts is None:
            out.append(
                Check(
                    dist,
                    None,
                    f"{dist} {v}; could not list JupyterLab extensions",
                    "Run `jupyter labextension list` to check it is enabled.",
                )
            )
        elif exts.get(ext):
            out.append(Check(dist, True, f"{dist} {v}, front-end {ext} enabled"))
        else:
            state = "disabled" if ext in exts else "missing"
            out.append(
                Check(
                    dist,
                    False,
                    f"{dist} {v}, front-end {ext} {state}: widgets will not draw",
                    f"`jupyter labextension enable {ext}`"
                    if state == "disabled"
                    else f"Reinstall: `pip install --force-reinstall {dist}=={v}`, then restart JupyterLab.",
                )
            )
    return out


def check_ray() -> list[Check]:
    """Ray, for ``executor="ray"`` runs."""
    v = installed_version("ray")
    if v is None:
        return [Check("ray", None, "not installed: runs use executor='local'", "Run `make install` for Ray runs.")]
    return [Check("ray", True, f"ray {v}: executor='ray' available")]


CHECKS: tuple[Callable[[], list[Check]], ...] = (
    check_python,
    check_torch,
    check_checkpoints,
    check_data,
    check_jupyter,
    check_ray,
)
"""The checks :func:`run_checks` runs, in screen order."""


def run_checks() -> list[Check]:
    """Run every check of :data:`CHECKS`; a check that fails unexpectedly becomes a failed line."""
    out: list[Check] = []
    for fn in CHECKS:
        try:
            out += fn()
        except Exception as exc:  # a doctor must report, not crash
            out.append(
                Check(
                    fn.__name__.removeprefix("check_"),
                    False,
                    f"check failed: {exc!r}",
                    "Report this with the output of `workbench doctor`.",
                )
            )
    return out


def format_report(checks: list[Check]) -> str:
    """The one-screen text: ``[ok] / [!!] / [--]``, name, what was found, and ``-> fix``."""
    mark = {True: "[ok]", False: "[!!]", None: "[--]"}
    width = max(len(c.name) for c in checks)
    lines = ["SAM2 Workbench doctor"]
    for c in checks:
        lines.append(f"{mark[c.ok]} {c.name:<{width}}  {c.detail}")
        if c.ok is not True and c.fix:
            lines.append(f"     {'':<{width}}  -> {c.fix}")
    bad = sum(c.ok is False for c in checks)
    lines.append("All set." if not bad else f"{bad} problem(s) above; each line says what to do.")
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    """The checks as a JSON list of objects (for scripts)."""
    return json.dumps([c.__dict__ for c in checks], indent=1)


__all__ = ["CHECKS", "LAB_EXTENSIONS", "Check", "as_json", "format_report", "parse_labextension_list", "run_checks"]
