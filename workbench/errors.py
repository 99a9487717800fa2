"""One exception hierarchy for everything the workbench refuses.

Every message says what was wrong and how to fix it; where there is a closed set of valid
choices, the message lists them.
"""

from __future__ import annotations

from collections.abc import Iterable


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """A setting (environment variable, parameter, option) has an invalid value."""


class UnknownNameError(ConfigError, KeyError):
    """A name (model, backend, dataset, prompt type …) is not one of the valid options."""

    def __init__(self, kind: str, name: object, valid: Iterable[object]):
        self.kind, self.name, self.valid = kind, name, sorted(map(str, valid))
        super().__init__(f"Unknown {kind} {name!r}. Valid options: {', '.join(self.valid) or '(none)'}.")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]

    def __reduce__(self):  # picklable, so errors cross process boundaries (Ray workers)
        return (type(self), (self.kind, self.name, self.valid))


class CheckpointError(WorkbenchError):
    """A checkpoint is missing, unreadable, unsafe or does not match its model config."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file for a model is not in the checkpoint directory."""


class CheckpointFormatError(CheckpointError):
    """The file is not a readable checkpoint in its official format (SAM 2: ``{"model":
    state_dict}``; SAM v1: a bare state dict): truncated, corrupt, or another layout."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's tensors do not match the model config (missing / unexpected keys,
    different shapes): usually the file belongs to another model size or family."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint contains pickled Python objects, which ``torch.load(weights_only=True)``
    refuses to execute."""


class DownloadError(CheckpointError):
    """A checkpoint could not be downloaded (no network, HTTP error, size mismatch)."""


class BackendError(WorkbenchError):
    """A backend cannot run (missing dependency, wrong call order, unsupported option)."""


class PromptError(WorkbenchError):
    """A prompt (points, labels, box, mask input, frame or object id) is malformed."""


class DataError(WorkbenchError):
    """Input data (image, mask, video, dataset folder, results folder) is invalid."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset folder or item does not exist where it was looked for."""


class ResultsFormatError(DataError):
    """A results folder does not follow the layout expected (e.g. DAVIS palette PNGs)."""
