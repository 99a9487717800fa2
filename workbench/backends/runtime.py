"""What the torch runtime of this machine offers, read without building a model.

It imports torch lazily so that ``workbench doctor`` and the classical backend start without
loading it. The rules for ``device="auto"`` and ``precision="auto"`` live with the model
loaders (:func:`workbench.backends.loading.resolve_device`,
:func:`workbench.backends.sam2.loading.resolve_precision`): CUDA when available, else CPU (the
SAM 2 notebooks' own rule); bf16 autocast on CUDA GPUs that support it, fp32 otherwise — never
bf16 on CPU, where it is about 150x slower.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

_log = logging.getLogger("workbench")


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (False when torch is missing)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def slow_cpu_hint(backend: str, device: str, image_size: int) -> str | None:
    """One line telling the user a SAM-family model at full size on CPU will be slow, or None.

    Given for ``backend`` other than ``"classical"`` on ``device == "cpu"`` at ``image_size >= 1024``.
    """
    if backend == "classical" or not str(device).startswith("cpu") or int(image_size) < 1024:
        return None
    return (
        f"Note: {backend} at {image_size} px runs on the CPU here and will be slow (seconds per frame). "
        "Use a CUDA GPU (device='auto' picks it when the kernel has one) or a smaller image_size, "
        "e.g. image_size=512, for a quick look."
    )


@dataclass(frozen=True)
class TorchFacts:
    """What torch reports about this machine.

    Attributes
    ----------
    torch, torchvision, sam2 : str or None
        Installed versions (None when not installed).
    cuda : str or None
        CUDA version torch was built with (None for CPU builds).
    gpu : str or None
        Name of CUDA device 0, None when no GPU is visible.
    gpu_memory_bytes : int or None
        Total memory of that device in bytes.
    bf16 : bool
        Whether that GPU supports bfloat16 (``torch.cuda.is_bf16_supported()``); False on CPU.
    sam2_cuda_extension : bool
        Whether sam2's optional CUDA extension (``sam2._C``, used for hole filling) is built.
    threads : int
        torch's intra-op CPU threads.
    """

    torch: str | None
    torchvision: str | None
    sam2: str | None
    cuda: str | None
    gpu: str | None
    gpu_memory_bytes: int | None
    bf16: bool
    sam2_cuda_extension: bool
    threads: int


def installed_version(dist: str) -> str | None:
    """Version of the installed distribution ``dist`` (``importlib.metadata``), None when absent."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def torch_facts() -> TorchFacts:
    """Read :class:`TorchFacts` (imports torch; a few seconds on first call)."""
    try:
        import torch
    except ImportError:
        return TorchFacts(
            None, installed_version("torchvision"), installed_version("sam2"), None, None, None, False, False, 0
        )
    gpu = mem = None
    bf16 = False
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu, mem = str(props.name), int(props.total_memory)
        bf16 = bool(torch.cuda.is_bf16_supported())
    try:
        from sam2 import _C  # noqa: F401  (built only with SAM2_BUILD_CUDA=1)

        ext = True
    except ImportError:
        ext = False
    return TorchFacts(
        torch=str(torch.__version__),
        torchvision=installed_version("torchvision"),
        sam2=installed_version("sam2"),
        cuda=torch.version.cuda,
        gpu=gpu,
        gpu_memory_bytes=mem,
        bf16=bf16,
        sam2_cuda_extension=ext,
        threads=int(torch.get_num_threads()),
    )


def warn_if_slow(backend: str, device: str, image_size: int) -> str | None:
    """Log :func:`slow_cpu_hint` once per (backend, image size) on the ``workbench`` logger
    (shown in notebooks and terminals); returns the hint or None."""
    hint = slow_cpu_hint(backend, device, image_size)
    key = (backend, int(image_size))
    if hint is not None and key not in _HINTED:
        _HINTED.add(key)
        _log.warning(hint)
    return hint


_HINTED: set[tuple[str, int]] = set()

__all__ = ["TorchFacts", "cuda_available", "installed_version", "slow_cpu_hint", "torch_facts", "warn_if_slow"]
