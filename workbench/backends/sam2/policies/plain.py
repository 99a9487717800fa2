"""The plain ``"sam2"`` policy: sam2 1.1.0's own tracking, nothing changed.

sam2 keeps, on every frame, the candidate mask with the highest predicted IoU and attends to
the ``num_maskmem - 1`` non-conditioning frames right behind the tracked frame (every
``memory_temporal_stride_for_eval``-th further back) plus the conditioning frames
(``SAM2Base._forward_sam_heads`` and ``_prepare_memory_conditioned_features``,
``sam2/modeling/sam2_base.py``, sam2 1.1.0). It remembers nothing outside ``inference_state``,
so its state is empty, and installing it means removing any other policy: the predictor is
sam2's ``SAM2VideoPredictor`` again (any sam2 video predictor is accepted, including
``SAM2VideoPredictorVOS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ....errors import ConfigError
from .base import params_from_kwargs


@dataclass(frozen=True)
class Sam2Params:
    """The plain policy has no parameters."""

    @classmethod
    def from_kwargs(cls, **kwargs) -> Sam2Params:
        """Checked construction (any name raises :class:`ConfigError`)."""
        return params_from_kwargs(cls, kwargs, "sam2")


class Sam2Policy:
    """sam2 1.1.0's own tracking as a :class:`~.base.TrackingPolicy` (stateless)."""

    name = "sam2"

    def __init__(self, params: Sam2Params | None = None):
        self.params = Sam2Params() if params is None else params

    def __repr__(self) -> str:
        return "Sam2Policy()"

    def params_dict(self) -> dict[str, Any]:
        return {}

    def policy_state(self) -> dict[str, Any]:
        return {"policy": self.name}

    def set_policy_state(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("policy") != self.name:
            raise ConfigError("Not a 'sam2' policy state: expected {'policy': 'sam2'}.")

    def reset(self) -> None:
        pass

    def forget_object(self, obj_id: int) -> None:
        pass

    def install(self, predictor):
        """Remove any installed policy (see :func:`~.predictor.remove_policy`); returns the predictor."""
        from .predictor import remove_policy

        return remove_policy(predictor)


__all__ = ["Sam2Params", "Sam2Policy"]
