"""Pins are written once, in pyproject.toml: environment.yml and the Makefile must agree with it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)")


def _pyproject_pins() -> dict[str, dict[str, str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": data["dependencies"], **data["optional-dependencies"]}
    return {g: dict(m.groups() for d in deps if (m := PIN.fullmatch(d.strip()))) for g, deps in groups.items()}


def test_environment_yml_has_every_pyproject_pin() -> None:
    pins = _pyproject_pins()
    text = (ROOT / "environment.yml").read_text()
    listed = dict(PIN.findall(text))
    for group in pins.values():
        for name, version in group.items():
            assert listed.get(name) == version, f"environment.yml pins {name}=={listed.get(name)}, pyproject {version}"
    every = {n for g in pins.values() for n in g}
    extra = sorted(set(listed) - every)
    assert not extra, f"environment.yml pins packages pyproject.toml does not: {extra}"


def test_makefile_reads_core_pins_from_pyproject() -> None:
    core = _pyproject_pins()["core"]
    out = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", "install"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for name in ("torch", "torchvision", "sam2"):
        assert f"{name}=={core[name]}" in out, f"make install does not install {name}=={core[name]}"
    stamp = f".core-torch{core['torch']}-tv{core['torchvision']}-sam2{core['sam2']}"
    assert stamp in out, "the core stamp must carry the pins so a pin change reinstalls"
    text = (ROOT / "Makefile").read_text()
    own = re.findall(r"[A-Za-z0-9_\-]==[0-9]", text)
    assert not own, f"the Makefile writes versions of its own: {own}"
