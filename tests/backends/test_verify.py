"""Checkpoint integrity: official sizes / SHA-256 digests, ``checkpoints verify``, run cards."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench.backends import registry
from workbench.backends.verify import add_verify_command, verify_checkpoints
from workbench.errors import DownloadError, UnknownNameError


def test_every_official_checkpoint_has_a_size_and_digest():
    every = registry.list_specs(backend=None)
    specs = [s for s in every if s.filename in registry.OFFICIAL_FILES]
    assert len(specs) == 11 and {s.filename for s in specs} == set(registry.OFFICIAL_FILES)
    # MedSAM2 and the transformers folders have no published digest: they are reported "unverified"
    assert all(s.sha256 is None and s.size_bytes is None for s in every if s not in specs)
    for s in specs:
        size, digest = registry.OFFICIAL_FILES[s.filename]
        assert (s.size_bytes, s.sha256) == (size, digest)
        assert re.fullmatch(r"[0-9a-f]{64}", digest) and 100e6 < size < 3e9, s.name
    # plausibility: all digests differ (a copy-paste slip would repeat one), and each SAM 2.1 file
    # is slightly larger than its SAM 2 counterpart (same architecture plus a few new parameters)
    assert len({d for _, d in registry.OFFICIAL_FILES.values()}) == 11
    for size in registry.SIZES:
        assert registry.get_spec(f"sam2.1_hiera_{size}").size_bytes > registry.get_spec(f"sam2_hiera_{size}").size_bytes


def _sparse(path: Path, size: int) -> Path:
    """A file of ``size`` zero bytes (sparse on disk, so official sizes cost nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


def test_verify_reports_missing_truncated_foreign_and_official_files(tmp_path, monkeypatch):
    folder = tmp_path / "ckpts"
    tiny = registry.get_spec("sam2.1_hiera_tiny")
    _sparse(folder / tiny.filename, tiny.size_bytes - 1000)  # truncated download
    _sparse(folder / "sam2_hiera_tiny.pt", registry.get_spec("sam2_hiera_tiny").size_bytes)  # right size, wrong bytes
    (folder / "sam2_hiera_small.pt").write_bytes(b"official?")
    small = registry.get_spec("sam2_hiera_small")
    monkeypatch.setitem(
        registry._SPECS,
        small.name,
        dataclasses.replace(small, size_bytes=9, sha256=hashlib.sha256(b"official?").hexdigest()),
    )
    checks = {c.name: c for c in verify_checkpoints(checkpoint_dir=folder)}
    assert len(checks) == len(registry.list_specs(backend=None))
    assert checks["sam2.1_hiera_tiny"].status == "size mismatch" and checks["sam2.1_hiera_tiny"].size_ok is False
    zeros = checks["sam2_hiera_tiny"]
    assert zeros.size_ok and zeros.sha256_ok is False and zeros.status == "sha256 mismatch" and not zeros.ok
    h = hashlib.sha256()
    for start in range(0, zeros.size, 1 << 20):
        h.update(bytes(min(1 << 20, zeros.size - start)))
    assert zeros.sha256 == h.hexdigest()
    assert checks["sam2_hiera_small"].status == "ok" and checks["sam2_hiera_small"].ok
    large = checks["sam2.1_hiera_large"]
    assert not large.present and large.status == "missing" and large.sha256 is None and large.size_ok is None
    assert large.file == str(folder.resolve() / "sam2.1_hiera_large.pt")
    row = checks["sam2_hiera_small"].to_dict()
    assert {"name", "file", "present", "size", "size_ok", "sha256", "sha256_ok", "status"} <= set(row)
    json.dumps(row)
    quick = verify_checkpoints(["tiny", "sam2_hiera_small"], folder, compute_sha256=False)
    assert [c.status for c in quick] == ["size mismatch", "size ok"] and quick[1].sha256 is None


def test_verify_names_aliases_files_and_unknown_names(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    ckpt = tmp_path / "elsewhere" / "sam_vit_h_4b8939.pth"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    checks = verify_checkpoints(["b+", "facebook/sam2-hiera-large", "vit_l", str(ckpt)])
    assert [c.name for c in checks] == ["sam2.1_hiera_base_plus", "sam2_hiera_large", "sam_vit_l", "sam_vit_h"]
    assert checks[0].file == str(tmp_path.resolve() / "sam2.1_hiera_base_plus.pt")
    assert checks[3].file == str(ckpt) and checks[3].present and checks[3].size_ok is False
    with pytest.raises(UnknownNameError, match="sam2.1_hiera_tiny.*sam_vit_b|sam_vit_b.*sam2.1_hiera_tiny"):
        verify_checkpoints(["sam3_hiera_tiny"])
    (tmp_path / "my_finetune.pt").write_bytes(b"x")
    with pytest.raises(UnknownNameError, match="sam2.1_hiera_tiny.pt"):
        verify_checkpoints([str(tmp_path / "my_finetune.pt")])


def _parser() -> argparse.ArgumentParser:
    """The shape of workbench/cli.py: ``checkpoints`` with its own default handler."""
    p = argparse.ArgumentParser(prog="workbench")
    sub = p.add_subparsers(dest="command", required=True)
    ck = sub.add_parser("checkpoints")
    ck_sub = ck.add_subparsers(dest="action", required=True)
    ck_sub.add_parser("list")
    add_verify_command(ck_sub)
    ck.set_defaults(func=lambda args: "list handler")
    return p


def test_verify_command(tmp_path, capsys):
    (tmp_path / "sam2.1_hiera_tiny.pt").write_bytes(b"random weights")
    args = _parser().parse_args(["checkpoints", "verify", "--dir", str(tmp_path)])
    assert args.func(args) == 1  # the present file is not the official one
    out = capsys.readouterr().out
    assert "sam2.1_hiera_tiny" in out and "size mismatch" in out and "download it again" in out
    assert hashlib.sha256(b"random weights").hexdigest() in out
    n = len(registry.list_specs(backend=None))
    assert f"1 of {n} official checkpoints present" in out and "sam2_hiera_large" not in out
    args = _parser().parse_args(["checkpoints", "verify", "large", "--dir", str(tmp_path), "--size-only"])
    assert args.func(args) == 1 and "missing" in capsys.readouterr().out
    (tmp_path / "sam2.1_hiera_tiny.pt").unlink()
    args = _parser().parse_args(["checkpoints", "verify", "--dir", str(tmp_path)])
    assert args.func(args) == 0 and f"0 of {n}" in capsys.readouterr().out


def test_verify_covers_transformers_model_folders(tmp_path):
    folder = tmp_path / "facebook" / "sam2.1-hiera-tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    by_name, by_path = verify_checkpoints(["hf_sam2.1_hiera_tiny", str(folder)], tmp_path)
    for check in (by_name, by_path):
        assert check.name == "hf_sam2.1_hiera_tiny" and check.present and check.status == "unverified"
        assert check.sha256 == hashlib.sha256(b"weights").hexdigest() and check.file.endswith("model.safetensors")
    (folder / "config.json").unlink()  # a folder without its config is not a usable model
    assert verify_checkpoints(["hf_sam2.1_hiera_tiny"], tmp_path)[0].status == "missing"


def test_verify_does_not_import_torch(tmp_path):
    code = (
        "import sys; from workbench.backends.verify import verify_checkpoints; "
        f"verify_checkpoints(checkpoint_dir={str(tmp_path)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture()
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_from_the_official_url_is_checked_against_the_official_size(tmp_path, http_server, monkeypatch):
    served, base = http_server
    (served / "sam_vit_b_01ec64.pth").write_bytes(b"an error page, not weights")
    spec = registry.get_spec("vit_b", backend="sam")
    official = dataclasses.replace(spec, url=f"{base}/sam_vit_b_01ec64.pth")  # same file name, same size/sha
    with pytest.raises(DownloadError, match=f"expected {spec.size_bytes}"):
        registry.download_checkpoint(official, tmp_path / "ckpts", timeout=5)
    assert not (tmp_path / "ckpts" / spec.filename).exists()
    # a mirror may serve a re-saved file: Content-Length only, then `verify` tells the difference
    path = registry.download_checkpoint(spec, tmp_path / "ckpts", timeout=5, url=official.url)
    [check] = verify_checkpoints([str(path)])
    assert check.status == "size mismatch"


@pytest.mark.slow  # builds SAM 2.1 tiny (random weights) and runs one click on one image
def test_run_card_holds_the_real_sha256_of_the_checkpoint(tmp_path, data_dir):
    pytest.importorskip("torch")
    from workbench.backends.sam2 import make_sam2_image_backend, save_checkpoint
    from workbench.runners.card import read_run
    from workbench.runners.image_runner import run_image_benchmark

    backend = make_sam2_image_backend("sam2.1_hiera_tiny", checkpoint="random", image_size=256, seed=3)
    path = save_checkpoint(backend.model, tmp_path / "ckpts" / "sam2.1_hiera_tiny.pt")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    run_dir = run_image_benchmark(
        backend="sam2",
        model="sam2.1_hiera_tiny",
        checkpoint=str(path),
        image_size=256,
        dataset="grabcut",
        data_root=data_dir,
        subset=1,
        max_clicks=1,
        box_prompt=False,
        reports_root=tmp_path / "reports",
        progress=False,
    )
    card = read_run(run_dir)["card"]
    assert card["checkpoint_sha256"] == digest and card["checkpoint"] == str(path.resolve())
    assert card["untrained"] is False
    [check] = verify_checkpoints(["sam2.1_hiera_tiny"], tmp_path / "ckpts")
    assert check.sha256 == digest and check.sha256_ok is False  # random weights are not the official file
