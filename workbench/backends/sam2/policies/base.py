"""What every SAM 2 tracking policy offers: a name, its parameters, its state as plain data.

A *tracking policy* decides how SAM 2's video predictor turns the decoder's candidates into a
track: which candidate mask a frame keeps and which past frames enter memory attention.
``"sam2"`` is sam2 1.1.0's own rule (highest predicted IoU; the ``num_maskmem - 1`` frames
right behind), ``"samurai"`` is SAMURAI's motion-aware selection
(:mod:`.samurai`); SAM2Long (memory tree) is to follow.

:class:`TrackingPolicy` is the protocol sessions, runners and run cards rely on:

* ``name`` and :meth:`~TrackingPolicy.params_dict` (JSON-ready, for run cards);
* :meth:`~TrackingPolicy.policy_state` / :meth:`~TrackingPolicy.set_policy_state`: everything
  the policy remembers between frames (e.g. SAMURAI's Kalman filters), as plain data (dicts,
  lists, numbers, strings, None) that is deep-copied both ways, so a session can snapshot it
  beside the predictor's ``inference_state`` and undo exactly;
* :meth:`~TrackingPolicy.reset` (new video / cleared prompts) and
  :meth:`~TrackingPolicy.forget_object`;
* :meth:`~TrackingPolicy.install`: plug into a built ``SAM2VideoPredictor`` (see
  :func:`workbench.backends.sam2.policies.apply_policy`).

Policies that act through the predictor hooks of :mod:`.predictor` (as SAMURAI does) also
implement :class:`PredictorHooks`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ....errors import ConfigError


@runtime_checkable
class TrackingPolicy(Protocol):
    """A SAM 2 video tracking policy (see the module docstring)."""

    name: str

    def params_dict(self) -> dict[str, Any]:
        """The policy's parameters by name (JSON-ready), for run cards."""
        ...

    def policy_state(self) -> dict[str, Any]:
        """A deep copy of everything the policy remembers, as plain data."""
        ...

    def set_policy_state(self, state: Mapping[str, Any]) -> None:
        """Replace the remembered state by (a deep copy of) ``state`` from :meth:`policy_state`.

        Raises
        ------
        ConfigError
            ``state`` is not a state of this policy.
        """
        ...

    def reset(self) -> None:
        """Forget everything (a new video, or all prompts cleared)."""
        ...

    def forget_object(self, obj_id: int) -> None:
        """Forget one object (it was removed from the tracking state)."""
        ...

    def install(self, predictor):
        """Make ``predictor`` (a built ``SAM2VideoPredictor``) track with this policy; returns it."""
        ...


@runtime_checkable
class PredictorHooks(Protocol):
    """The calls :class:`~workbench.backends.sam2.policies.predictor.PolicyPredictorMixin`
    makes into a policy while sam2 1.1.0's video predictor runs (one object per call)."""

    def begin_frame(self, obj_id: int, frame_idx: int, reverse: bool, num_frames: int) -> None:
        """A frame inference for ``obj_id`` starts (``_run_single_frame_inference``)."""
        ...

    def end_frame(self, completed: bool) -> None:
        """It ended (``completed`` False when it raised)."""
        ...

    def object_score_threshold(self) -> float:
        """Object-score logit above which the decoder's object counts as present (sam2: 0)."""
        ...

    def choose_mask(self, ious, high_res_multimasks, object_score_logits, multimask_output: bool):
        """Index (LongTensor ``(B,)``) of the candidate kept, or None for sam2's own choice."""
        ...

    def mask_as_output(self, object_score_logits) -> None:
        """The frame's output is the input mask itself (no decoder choice)."""
        ...

    def select_memory(
        self,
        frame_idx: int,
        non_cond_outputs: Mapping,
        unselected_cond_outputs: Mapping,
        track_in_reverse: bool,
        num_maskmem: int,
        max_obj_ptrs_in_encoder: int,
        num_frames: int | None,
    ):
        """``[(t_pos, output or None), ...]`` for the non-conditioning memory slots, or None for
        sam2's own choice."""
        ...

    def attention_backends(self):
        """``torch.nn.attention.SDPBackend`` list to force on the attention of
        ``sam2/modeling/sam/transformer.py``, or None to leave torch's default."""
        ...


@runtime_checkable
class FrameScores(Protocol):
    """A policy's own scores of a frame it tracked, for the teaching view
    (:func:`workbench.backends.sam2.policies.trace.memory_trace`)."""

    def frame_scores(self, obj_id: int, frame_idx: int, output: Mapping) -> dict[str, float]:
        """Scores by name of ``obj_id``'s prediction on ``frame_idx`` (``output``: its stored frame
        output); empty when the policy did not decide anything there (e.g. a prompted frame)."""
        ...


class InstalledPolicy(TrackingPolicy, PredictorHooks, Protocol):
    """What a predictor holds as ``tracking_policy``: a policy with its predictor hooks."""


def params_from_kwargs(cls, kwargs: Mapping[str, Any], policy: str):
    """Build the frozen parameter dataclass ``cls`` from ``kwargs``, checking names and types.

    Integers are accepted for float fields; booleans are refused for numeric fields.

    Raises
    ------
    ConfigError
        Unknown names (the message lists the valid ones) or values of the wrong type.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - set(fields))
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {unknown} for tracking policy {policy!r}. "
            f"Valid parameters: {', '.join(fields) or '(none)'}."
        )
    clean = {}
    for key, value in kwargs.items():
        kind = fields[key].type
        kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = True
        if not ok:
            raise ConfigError(f"Parameter {key}={value!r} of tracking policy {policy!r} must be of type {kind}.")
        clean[key] = value
    return cls(**clean)


def plain_copy(value):
    """Deep copy of plain data (dict / list / tuple / number / str / None)."""
    return copy.deepcopy(value)


__all__ = ["FrameScores", "PredictorHooks", "TrackingPolicy", "params_from_kwargs", "plain_copy"]
