"""Drive a real JupyterLab in headless Chromium (Playwright) for the browser tests.

* :class:`LabServer` starts ``jupyter lab`` on 127.0.0.1 with a random free port and a random
  token, in a temporary root folder (copies of the notebooks), with its own runtime / config /
  settings / workspaces folders so nothing of the user's setup leaks in and nothing is written
  to the repository. News, update checks and notifications are turned off so no popup covers
  the notebook.
* :func:`launch_chromium` starts Debian's ``chromium`` (never Playwright's own download).
* :class:`NotebookPage` opens a notebook, runs every cell through the *Run* menu and waits
  until every code cell has run and the kernel is idle.
* :class:`KernelProbe` connects a second client (``jupyter_client.BlockingKernelClient``) to the
  SAME kernel the page uses and evaluates Python expressions in it (JSON results).

Failures raise ``LabError`` with the server log tail, so a broken setup fails the tests loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# JupyterLab user settings (written to a temporary LabServerApp.user_settings_dir).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    # every cell attached to the DOM (no virtualisation): widgets below the fold render too
    # start the notebook's kernel without the "Select Kernel" dialog
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/sessionDialogs": {"skipKernelRestartDialog": True},
}

STDERR_MIME = "application/vnd.jupyter.stderr"  # stderr and tracebacks alike
PANEL = ".jp-NotebookPanel:visible"
"""The notebook panel of the current tab (each page opens one notebook in a fresh workspace)."""


class LabError(RuntimeError):
    """JupyterLab, Chromium or a notebook run did not do what the test needs."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inject_parameters(src: Path, dst: Path, params: dict) -> None:
    """Copy notebook ``src`` to ``dst`` with a cell setting ``params`` right after the cell
    tagged ``parameters`` (what papermill does; the cell is tagged ``injected-parameters``)."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    if params:
        cells = nb["cells"]
        idx = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
        if idx is None:
            raise LabError(f"{src.name} has no cell tagged 'parameters' to override")
        source = "# Parameters injected by the browser tests\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
        cells.insert(
            idx + 1,
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "injected-parameters",
                "metadata": {"tags": ["injected-parameters"]},
                "outputs": [],
                "source": source.splitlines(keepends=True),
            },
        )
    dst.write_text(json.dumps(nb, indent=1), encoding="utf-8")


class LabServer:
    """A JupyterLab server on 127.0.0.1 (random port and token) serving ``root``.

    Parameters
    ----------
    root : Path
        Notebook folder (``ServerApp.root_dir``; kernels start there).
    state : Path
        Folder for the server's runtime (kernel connection files), config, settings,
        workspaces and log.
    env : dict
        Extra environment variables for the server and its kernels.
    """

    def __init__(self, root: Path, state: Path, env: dict[str, str]):
        self.root, self.state = Path(root), Path(state)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.runtime_dir = self.state / "runtime"
        self.log_path = self.state / "jupyterlab.log"
        self.extra_env = dict(env)
        self.proc: subprocess.Popen | None = None
        self._log = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> LabServer:
        settings = self.state / "settings"
        for key, values in LAB_SETTINGS.items():
            plugin_dir, plugin = key.rsplit("/", 1)
            path = settings / plugin_dir / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        for sub in ("runtime", "config", "data", "workspaces", "ipython"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.extra_env,
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_CONFIG_DIR": str(self.state / "config"),  # no user config (~/.jupyter)
            "JUPYTER_DATA_DIR": str(self.state / "data"),  # notebook secret etc. (the venv's
            # share/jupyter with the kernel spec and the widget lab extensions stays on the path)
            "IPYTHONDIR": str(self.state / "ipython"),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("JUPYTER_TOKEN", None)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabServerApp.user_settings_dir={settings}",
            f"--LabServerApp.workspaces_dir={self.state / 'workspaces'}",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - stays open for the server's lifetime; closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"JupyterLab exited with code {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                status = self.api("/api/status", timeout=5)
                if "started" in status:
                    return self
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = exc
            time.sleep(0.5)
        self.stop()
        raise LabError(
            f"JupyterLab did not answer /api/status within {timeout:.0f} s (last error: {last}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Shut the server down (kernels included): /api/shutdown, then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
                self.api("/api/shutdown", method="POST", timeout=10)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    # -- REST -----------------------------------------------------------------------------------------
    def api(self, path: str, method: str = "GET", timeout: float = 30):
        req = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def url(self, notebook: str, workspace: str | None = None) -> str:
        """Lab URL opening ``notebook``; ``workspace``: a named (fresh) workspace, so nothing
        opened by an earlier page is restored."""
        ws = f"/workspaces/{workspace}" if workspace else ""
        return f"{self.base_url}/lab{ws}/tree/{notebook}?token={self.token}"

    def session(self, notebook: str) -> dict | None:
        """The ``/api/sessions`` entry of ``notebook`` (None when there is none)."""
        return next((s for s in self.api("/api/sessions") if s.get("path") == notebook), None)

    def close_session(self, notebook: str) -> None:
        """Delete the session of ``notebook`` (shuts its kernel down)."""
        s = self.session(notebook)
        if s is not None:
            self.api(f"/api/sessions/{s['id']}", method="DELETE")

    def kernel_id(self, notebook: str, timeout: float = 60.0) -> str:
        """Id of the kernel of the session opened on ``notebook`` (``/api/sessions``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.session(notebook)
            if s is not None and s.get("kernel"):
                return s["kernel"]["id"]
            time.sleep(0.5)
        raise LabError(f"No kernel session for {notebook}: {self.api('/api/sessions')}")

    def probe(self, notebook: str) -> KernelProbe:
        """A :class:`KernelProbe` on the kernel of ``notebook``."""
        kid = self.kernel_id(notebook)
        conn = self.runtime_dir / f"kernel-{kid}.json"
        if not conn.is_file():
            raise LabError(
                f"Connection file of kernel {kid} not found in {self.runtime_dir}: "
                f"{sorted(p.name for p in self.runtime_dir.iterdir())}"
            )
        return KernelProbe(conn)


class KernelProbe:
    """A second client on a running kernel: evaluate expressions in the notebook's namespace.

    Requests queue behind the cells the page sent (one shell channel per kernel), so an
    evaluation sees the state after every cell submitted before it.
    """

    def __init__(self, connection_file: Path):
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()

    def eval(self, expr: str, timeout: float = 120.0):
        """JSON value of the Python expression ``expr`` evaluated in the kernel.

        Raises
        ------
        LabError
            The expression raised (the message holds the traceback) or timed out.
        """
        out: list[str] = []
        err: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                err.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(msg["content"]["traceback"])))

        code = f"print('\\x1e' + __import__('json').dumps({expr}))"
        try:
            reply = self.client.execute_interactive(
                code, silent=False, store_history=False, output_hook=hook, timeout=timeout, allow_stdin=False
            )
        except TimeoutError as exc:
            raise LabError(f"Kernel did not evaluate {expr!r} within {timeout} s") from exc
        if reply["content"]["status"] != "ok" or err:
            raise LabError(f"Evaluating {expr!r} in the kernel failed:\n" + "\n".join(err))
        text = "".join(out)
        return json.loads(text[text.rindex("\x1e") + 1 :])

    def wait_for(self, expr: str, timeout: float = 60.0, interval: float = 0.25):
        """Poll ``expr`` until it is truthy; returns its value. Raises LabError on timeout."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.eval(expr)
            if value:
                return value
            time.sleep(interval)
        raise LabError(f"{expr!r} still {value!r} after {timeout} s")

    def close(self) -> None:
        self.client.stop_channels()


def launch_chromium(playwright):
    """Launch Debian's Chromium headless through Playwright (``executable_path``; never
    ``playwright install``). Raises LabError when it is missing or cannot start."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise LabError("Chromium not found on PATH: install it with `make browser` (apt-get install chromium).")
    try:
        return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
    except Exception as exc:  # reported as a test failure with the cause
        raise LabError(f"Chromium at {exe} failed to start under Playwright: {exc}") from exc


class NotebookPage:
    """One JupyterLab page showing one notebook."""

    def __init__(self, page, server: LabServer, notebook: str):
        self.page, self.server, self.notebook = page, server, notebook

    def open(self, timeout: float = 90.0) -> NotebookPage:
        """Load JupyterLab on the notebook and wait for its kernel to be idle."""
        workspace = "t" + secrets.token_hex(6)
        self.page.goto(self.server.url(self.notebook, workspace), wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.locator(f"{PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=timeout * 1000)
        self.wait_kernel_idle(timeout)
        time.sleep(0.5)
        dialogs = self.page.locator(".jp-Dialog")
        if dialogs.count():
            raise LabError(f"A dialog blocks {self.notebook}: {dialogs.first.inner_text()!r}")
        return self

    def wait_kernel_idle(self, timeout: float = 120.0) -> None:
        self.page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
            timeout=timeout * 1000
        )

    def run_all(self) -> None:
        """Run every cell through the menu bar: Run → Run All Cells."""
        self.page.locator(f"{PANEL} .jp-Notebook").first.click(position={"x": 5, "y": 5})
        self.page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="Run").first.click()
        self.page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()

    def prompts(self) -> list[str]:
        """Execution prompt of every code cell: ``"[3]:"``, ``"[*]:"`` (running or queued), ``"[ ]:"``."""
        cells = self.page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt")
        return [t.strip() for t in cells.all_inner_texts()]

    def wait_all_run(self, timeout: float = 240.0) -> None:
        """Wait until every code cell shows an execution count and the kernel is idle; raise
        LabError with the traceback when a cell raised."""
        deadline = time.monotonic() + timeout
        prompts: list[str] = []
        while time.monotonic() < deadline:
            self.raise_on_error()
            prompts = self.prompts()
            done = prompts and all(p.startswith("[") and p[1:-2].strip().isdigit() for p in prompts)
            if done and self.page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']").count():
                self.raise_on_error()
                return
            time.sleep(0.5)
        raise LabError(
            f"{self.notebook}: cells did not finish within {timeout:.0f} s (prompts {prompts})\n"
            f"{self.server.log_tail(2000)}"
        )

    def raise_on_error(self) -> None:
        """Raise LabError when a cell shows a traceback (JupyterLab renders errors like stderr)."""
        outputs = self.page.locator(f"{PANEL} .jp-OutputArea-output[data-mime-type='{STDERR_MIME}']")
        errors = [t for t in outputs.all_inner_texts() if "Traceback (most recent call last)" in t]
        # a widget whose front-end extension is missing or broken renders as this text
        errors += [
            t
            for t in self.page.locator(f"{PANEL} .jp-OutputArea-output").all_inner_texts()
            if "Error displaying widget" in t
        ]
        if errors:
            raise LabError(f"{self.notebook}: a cell raised:\n" + "\n".join(errors)[-3000:])


def wait_until(fn, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """Poll ``fn()`` until it returns a truthy value (returned). Raises LabError on timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise LabError(f"{what} not reached within {timeout} s (last: {value!r})")
