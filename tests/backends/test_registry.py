"""Checkpoint registry: names, aliases, resolution, messages, downloads (no torch needed)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from workbench.backends import registry
from workbench.errors import CheckpointNotFoundError, DownloadError, UnknownNameError


def test_eight_official_checkpoints_with_official_names_configs_and_urls():
    specs = [s for s in registry.list_specs() if s.family in ("sam2", "sam2.1")]
    assert len(specs) == 8 and len({s.name for s in specs}) == 8
    assert [s.name for s in registry.list_specs()] == [*(s.name for s in specs), "medsam2_latest"]
    assert {(s.family, s.size) for s in specs} == {(f, z) for f in ("sam2", "sam2.1") for z in registry.SIZES}
    tiny21 = registry.get_spec("sam2.1_hiera_tiny")
    assert tiny21.config == "configs/sam2.1/sam2.1_hiera_t.yaml"
    assert tiny21.filename == "sam2.1_hiera_tiny.pt"
    assert tiny21.url == "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    assert registry.get_spec("sam2_hiera_tiny").url == (
        "https://dl.fbaipublicfiles.com/segment_anything_2/072824/sam2_hiera_tiny.pt"
    )
    assert registry.get_spec("sam2_hiera_base_plus").config == "configs/sam2/sam2_hiera_b+.yaml"
    # every config name must exist inside the installed sam2 package (found without importing it)
    sam2_root = Path(importlib.util.find_spec("sam2").submodule_search_locations[0])
    for s in specs:
        assert (sam2_root / s.config).is_file(), s.config
        assert s.url.endswith("/" + s.filename) and s.filename == s.name + ".pt"
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny21.url = "x"  # type: ignore[misc]


def test_medsam2_is_a_sam2_entry_with_its_official_file_and_512_px():
    spec = registry.get_spec("medsam2")
    assert spec is registry.MEDSAM2 and spec.backend == "sam2" and spec.family == "medsam2"
    assert spec.filename == "MedSAM2_latest.pt" and spec.image_size == 512
    assert spec.url == "https://huggingface.co/wanglab/MedSAM2/resolve/main/MedSAM2_latest.pt"
    # MedSAM2's sam2.1_hiera_t512.yaml is SAM 2.1 tiny at 512 px: the package's tiny config is built at 512
    assert spec.config == registry.get_spec("sam2.1_hiera_tiny").config
    assert registry.get_spec("MedSAM2_latest.pt").name == "medsam2_latest"


def test_transformers_entries_name_hugging_face_model_folders(tmp_path):
    specs = registry.list_specs("transformers")
    assert {s.architecture for s in specs} == set(registry.HF_ARCHITECTURES)
    tiny = registry.get_spec("facebook/sam2.1-hiera-tiny", backend="transformers")
    assert tiny.name == "hf_sam2.1_hiera_tiny" and tiny.filename == "facebook/sam2.1-hiera-tiny"
    assert registry.get_spec("sam2.1_hiera_tiny", backend="transformers") is tiny  # the same model through transformers
    assert registry.get_spec("sam2_hiera_b+", backend="transformers").filename == "facebook/sam2-hiera-base-plus"
    assert registry.get_spec("edgetam", backend="transformers").filename == "yonigozlan/EdgeTAM-hf"
    assert registry.get_spec("sam3", backend="transformers").architecture == "sam3"
    assert registry.get_spec("sam3_tracker", backend="transformers").filename == "facebook/sam3"
    # present only with config.json and model.safetensors in <dir>/<model id>/
    folder = tmp_path / "facebook" / "sam2.1-hiera-tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert registry.available_models(tmp_path, backend="transformers") == []
    (folder / "model.safetensors").write_bytes(b"x")
    assert registry.available_models(tmp_path, backend="transformers") == ["hf_sam2.1_hiera_tiny"]
    assert registry.resolve_checkpoint("tiny", tmp_path, backend="transformers") == folder
    row = next(r for r in registry.checkpoint_table(tmp_path, backend=None) if r["name"] == "hf_sam2.1_hiera_tiny")
    assert row["present"] and row["size"] == 1 and row["file"].endswith("facebook/sam2.1-hiera-tiny/model.safetensors")
    with pytest.raises(CheckpointNotFoundError, match="hf download facebook/sam2-hiera-small"):
        registry.resolve_checkpoint("hf_sam2_hiera_small", tmp_path, backend="transformers")
    with pytest.raises(DownloadError, match="hf download"):
        registry.download_checkpoint("edgetam", tmp_path, backend="transformers")


@pytest.mark.parametrize(
    "alias, expected",
    [
        ("sam2.1_hiera_t", "sam2.1_hiera_tiny"),
        ("sam2.1_hiera_b+", "sam2.1_hiera_base_plus"),
        ("tiny", "sam2.1_hiera_tiny"),
        ("B+", "sam2.1_hiera_base_plus"),
        ("large", "sam2.1_hiera_large"),
        ("SAM2.1_HIERA_SMALL.pt", "sam2.1_hiera_small"),
        ("facebook/sam2-hiera-base-plus", "sam2_hiera_base_plus"),
        ("facebook/sam2.1-hiera-large", "sam2.1_hiera_large"),
        ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small"),
        ("sam2_hiera_l", "sam2_hiera_large"),
    ],
)
def test_aliases_resolve_to_registry_names(alias, expected):
    assert registry.get_spec(alias).name == expected


@pytest.mark.parametrize("bad", ["sam3_hiera_tiny", "huge", "sam2.1_hiera_xl", "", 3])
def test_unknown_model_lists_valid_names(bad):
    with pytest.raises(UnknownNameError) as err:
        registry.get_spec(bad)
    msg = str(err.value)
    assert "sam2.1_hiera_tiny" in msg and "sam2_hiera_large" in msg
    assert isinstance(err.value, KeyError)


def test_resolve_uses_env_dir_and_reports_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(CheckpointNotFoundError) as err:
        registry.resolve_checkpoint("tiny")
    msg = str(err.value)
    for needle in (
        "sam2.1_hiera_tiny.pt",
        str(tmp_path),
        "SAM2_CHECKPOINT_DIR",
        "workbench checkpoints download sam2.1_hiera_tiny",
        "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt",
    ):
        assert needle in msg, needle
    assert registry.available_models() == []

    (tmp_path / "sam2.1_hiera_tiny.pt").write_bytes(b"12345")
    (tmp_path / "sam2_hiera_large.pt").write_bytes(b"1")
    (tmp_path / "not_a_checkpoint.pt").write_bytes(b"1")
    assert registry.resolve_checkpoint("sam2.1_hiera_t") == tmp_path / "sam2.1_hiera_tiny.pt"
    assert registry.available_models() == ["sam2.1_hiera_tiny", "sam2_hiera_large"]
    rows = {r["name"]: r for r in registry.checkpoint_table()}
    assert len(rows) == 9  # 8 SAM 2 / 2.1 and MedSAM2
    assert rows["sam2.1_hiera_tiny"]["present"] and rows["sam2.1_hiera_tiny"]["size"] == 5
    assert rows["sam2.1_hiera_tiny"]["file"] == str(tmp_path / "sam2.1_hiera_tiny.pt")
    assert not rows["sam2.1_hiera_large"]["present"] and rows["sam2.1_hiera_large"]["size"] is None
    assert rows["sam2_hiera_small"]["url"].endswith("/072824/sam2_hiera_small.pt")


def test_explicit_dir_overrides_env(tmp_path, monkeypatch):
    env_dir, other = tmp_path / "env", tmp_path / "other"
    env_dir.mkdir(), other.mkdir()
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(env_dir))
    (other / "sam2.1_hiera_small.pt").write_bytes(b"x")
    assert registry.available_models() == []
    assert registry.available_models(other) == ["sam2.1_hiera_small"]
    assert registry.resolve_checkpoint("small", checkpoint_dir=other) == other / "sam2.1_hiera_small.pt"


def test_sha256_file_matches_the_standard_test_vector(tmp_path):
    p = tmp_path / "abc.bin"
    p.write_bytes(b"abc")
    assert registry.sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(CheckpointNotFoundError):
        registry.sha256_file(tmp_path / "missing.bin")


def test_download_without_network_raises_download_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    spec = registry.get_spec("sam2.1_hiera_tiny")
    # Port 9 (discard) on localhost: refused immediately, like a machine without internet.
    monkeypatch.setitem(registry._SPECS, spec.name, dataclasses.replace(spec, url="http://127.0.0.1:9/x.pt"))
    with pytest.raises(DownloadError) as err:
        registry.download_checkpoint("tiny", timeout=2)
    msg = str(err.value)
    assert "internet" in msg and str(tmp_path / "sam2.1_hiera_tiny.pt") in msg and "127.0.0.1:9" in msg
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def http_server(tmp_path):
    """A local HTTP server serving tmp_path/served (no internet needed)."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_streams_from_a_mirror_and_checks_size(tmp_path, http_server):
    served, base = http_server
    payload = bytes(range(256)) * 9000  # ~2.3 MB: several 1 MiB chunks
    (served / "blob.pt").write_bytes(payload)
    dest = tmp_path / "ckpts"
    seen = []
    path = registry.download_checkpoint(
        "sam2.1_hiera_tiny",
        dest,
        timeout=5,
        url=f"{base}/blob.pt",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path == dest / "sam2.1_hiera_tiny.pt"
    assert path.read_bytes() == payload
    assert registry.sha256_file(path) == hashlib.sha256(payload).hexdigest()
    assert seen[-1] == (len(payload), len(payload)) and len(seen) >= 3
    assert [p.name for p in dest.iterdir()] == ["sam2.1_hiera_tiny.pt"]
    # present already: no second download (the URL is dead now)
    assert registry.download_checkpoint("tiny", dest, timeout=2, url=f"{base}/gone.pt") == path
    # a 404 is a DownloadError too, and the present file is kept when it fails
    with pytest.raises(DownloadError, match="HTTP 404"):
        registry.download_checkpoint("tiny", dest, timeout=5, url=f"{base}/gone.pt", overwrite=True)
    assert path.read_bytes() == payload


def test_download_rejects_wrong_size_and_checksum(tmp_path, http_server, monkeypatch):
    served, base = http_server
    (served / "blob.pt").write_bytes(b"0123456789")
    spec = registry.get_spec("sam2_hiera_small")
    monkeypatch.setitem(registry._SPECS, spec.name, dataclasses.replace(spec, url=f"{base}/blob.pt", size_bytes=11))
    with pytest.raises(DownloadError, match="incomplete"):
        registry.download_checkpoint("sam2_hiera_small", tmp_path, timeout=5)
    monkeypatch.setitem(
        registry._SPECS, spec.name, dataclasses.replace(spec, url=f"{base}/blob.pt", size_bytes=10, sha256="0" * 64)
    )
    with pytest.raises(DownloadError, match="Checksum"):
        registry.download_checkpoint("sam2_hiera_small", tmp_path, timeout=5)
    assert list(tmp_path.iterdir()) == [served]


def test_registry_does_not_import_torch():
    code = "import sys, workbench.backends.registry as r; r.checkpoint_table(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
