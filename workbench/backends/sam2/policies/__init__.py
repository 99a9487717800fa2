"""Tracking policies for sam2 1.1.0's video predictor: ``"sam2"`` (sam2's own),
``"samurai"`` (SAMURAI, arXiv:2411.11922) and ``"sam2long"`` (SAM2Long, arXiv:2410.16268).

Usage::

    net, info = build_sam2_model("sam2.1_hiera_tiny", checkpoint=..., mode="video")
    policy = make_policy("samurai", stable_frames_threshold=10)
    apply_policy(net, policy)          # in place; make_policy("sam2") undoes it
    state = net.init_state(...)        # the policy is reset with every new video
    ...
    saved = policy.policy_state()      # plain data, beside a snapshot of inference_state
    policy.set_policy_state(saved)     # exact undo

Every policy implements :class:`~.base.TrackingPolicy` (name, ``params_dict()`` for run
cards, ``policy_state()`` / ``set_policy_state()``, ``reset()``, ``install(predictor)``);
:mod:`.predictor` explains how a policy plugs into the predictor; :mod:`.trace` records which
memories fed each prediction under any policy (the teaching view).
"""

from __future__ import annotations

from typing import Any

from ....errors import UnknownNameError
from .base import PredictorHooks, TrackingPolicy, params_from_kwargs
from .plain import Sam2Params, Sam2Policy
from .predictor import SAM2VideoPredictorWithPolicy, apply_policy, installed_policy, remove_policy
from .sam2long import SAM2LongParams, SAM2LongPolicy
from .samurai import SamuraiParams, SamuraiPolicy

DEFAULT_POLICY = "sam2"
"""sam2's own mask and memory selection (today's behaviour, unchanged)."""

POLICIES: dict[str, tuple[type, Any]] = {
    "sam2": (Sam2Policy, Sam2Params),
    "samurai": (SamuraiPolicy, SamuraiParams),
    "sam2long": (SAM2LongPolicy, SAM2LongParams),
}
"""Policy name -> (policy class, parameter dataclass with ``from_kwargs``)."""


def make_policy(name: str, **params: Any) -> TrackingPolicy:
    """A new policy ``name`` with ``params`` (the others at their defaults).

    Raises
    ------
    UnknownNameError
        ``name`` is not in :data:`POLICIES` (the message lists them).
    ConfigError
        Unknown parameter names (listed) or invalid values.
    """
    if name not in POLICIES:
        raise UnknownNameError("tracking policy", name, POLICIES)
    policy_cls, params_cls = POLICIES[name]
    return policy_cls(params_from_kwargs(params_cls, params, name))


__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "PredictorHooks",
    "SAM2LongParams",
    "SAM2LongPolicy",
    "SAM2VideoPredictorWithPolicy",
    "Sam2Params",
    "Sam2Policy",
    "SamuraiParams",
    "SamuraiPolicy",
    "TrackingPolicy",
    "apply_policy",
    "installed_policy",
    "make_policy",
    "remove_policy",
]
