"""Recipe of ``reference.json``: the golden random SAM 2.1-tiny converted by transformers' own script.

Run once, by hand, with a copy of ``src/transformers/models/sam2_video/convert_sam2_video_to_hf.py``
from the transformers source repository (the PyPI wheel does not ship it)::

    python tests/data/hf_conversion/make_reference.py /path/to/convert_sam2_video_to_hf.py COMMIT

The script's own ``convert_sam2_checkpoint("sam2.1_hiera_tiny", ...)`` is called with the golden
checkpoint (its download-and-check of ``car.png`` with trained-model scores removed: no internet,
random weights). This file records what that script wrote: SHA-256, dtype and shape of every tensor
of ``model.safetensors`` and the whole ``config.json``. Tests compare the workbench's converter
against it and never rewrite it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

HERE = Path(__file__).resolve().parent


def tensor_digests(tensors: Mapping[str, torch.Tensor]) -> dict[str, dict[str, object]]:
    """SHA-256 (bytes of the C-contiguous tensor), dtype and shape of every tensor, by name."""
    return {
        key: {
            "sha256": hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest(),
            "dtype": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape),
        }
        for key, t in sorted(tensors.items())
    }


def main(script: str, commit: str) -> None:
    import transformers
    from safetensors.torch import load_file

    from workbench.backends.sam2 import build_sam2_model, save_checkpoint

    spec = importlib.util.spec_from_file_location("convert_sam2_video_to_hf", script)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {script}")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    with tempfile.TemporaryDirectory() as tmp:
        net, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=256, mode="video", seed=0)
        pt = save_checkpoint(net, Path(tmp) / "sam2.1_hiera_tiny.pt")
        out = Path(tmp) / "converted"
        reference.convert_sam2_checkpoint("sam2.1_hiera_tiny", str(pt), str(out), False)
        config = json.loads((out / "config.json").read_text())
        record = {
            "about": (
                "transformers' own SAM 2 video conversion script "
                f"(huggingface/transformers@{commit} src/transformers/models/sam2_video/"
                "convert_sam2_video_to_hf.py, its convert_sam2_checkpoint('sam2.1_hiera_tiny', ...)) run on "
                "the golden random checkpoint (build_sam2_model('sam2.1_hiera_tiny', checkpoint='random', "
                "image_size=256, mode='video', seed=0) + save_checkpoint; state-dict SHA-256 in "
                "tests/conftest.py) with transformers "
                f"{transformers.__version__}. Recipe: tests/data/hf_conversion/make_reference.py."
            ),
            "transformers_commit": commit,
            "transformers_version": transformers.__version__,
            "model_name": "sam2.1_hiera_tiny",
            "files": sorted(p.name for p in out.iterdir()),
            "config": config,
            "tensors": tensor_digests(load_file(out / "model.safetensors")),
        }
    (HERE / "reference.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
