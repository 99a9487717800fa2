"""Fixtures of the browser tests: one JupyterLab server and one headless Chromium per session.

The notebooks are copied into a temporary root folder (the repository stays clean); the image
and video notebooks get the weight-free ``classical`` backend injected as a parameter so the
runs are quick and deterministic on a CPU. ``WORKBENCH_DATA_DIR`` is passed through and
``WORKBENCH_REPORTS_DIR`` points at ``<root>/reports`` (which is also the dashboard's default
``reports_root``). Screenshots go to ``reports/browser/`` of the repository (CI artifacts).

A server or browser that cannot start FAILS the tests (never skips): CI runs them.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labdriver import LabError, LabServer, NotebookPage, inject_parameters, launch_chromium

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
PARAMS = {
    "quickstart.ipynb": {"backend": "classical"},
    "video_annotator.ipynb": {"backend": "classical", "max_frames": 8},
    "dashboard.ipynb": {},
}
VIEWPORT = {"width": 1600, "height": 1500}  # tall enough for the whole video annotator


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = REPO / "reports" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*-failure.png"):  # from an earlier session
        old.unlink()
    return path


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("lab-root")
    for name, params in PARAMS.items():
        inject_parameters(NOTEBOOKS / name, root / name, params)
    (root / "reports").mkdir()
    return root


@pytest.fixture(scope="session")
def lab_server(lab_root, tmp_path_factory, data_dir):
    env = {"WORKBENCH_DATA_DIR": str(data_dir), "WORKBENCH_REPORTS_DIR": str(lab_root / "reports")}
    server = LabServer(lab_root, tmp_path_factory.mktemp("lab-state"), env)
    try:
        server.start()
    except LabError as exc:
        pytest.fail(f"JupyterLab could not be started for the browser tests: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not installed (pip install -e '.[test]'): {exc}")
    pw = sync_playwright().start()
    try:
        browser = launch_chromium(pw)
    except LabError as exc:
        pw.stop()
        pytest.fail(str(exc))
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def open_notebook(lab_server, chromium, screenshot_dir, request):
    """``open_notebook(name) -> (NotebookPage, KernelProbe)``: a fresh page on the notebook,
    its kernel idle. On failure a full-page screenshot ``<test>-failure.png`` is saved."""
    contexts, probes, pages = [], [], []

    def _open(name: str):
        ctx = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        nb = NotebookPage(page, lab_server, name)
        pages.append(nb)
        try:
            nb.open()
        except Exception as exc:
            pytest.fail(f"JupyterLab did not open {name}: {exc}\n{lab_server.log_tail(2000)}")
        probe = lab_server.probe(name)
        probes.append(probe)
        return nb, probe

    yield _open
    failed = getattr(request.node, "rep_call", None)
    for nb in pages:
        if failed is not None and failed.failed:
            with contextlib.suppress(Exception):  # best effort
                nb.page.screenshot(path=str(screenshot_dir / f"{request.node.name}-failure.png"), full_page=True)
    for probe in probes:
        probe.close()
    for ctx in contexts:
        ctx.close()
    for nb in pages:  # shut the notebook's kernel down: the next test has the CPU to itself
        with contextlib.suppress(Exception):  # best effort; the server's shutdown stops it anyway
            lab_server.close_session(nb.notebook)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
