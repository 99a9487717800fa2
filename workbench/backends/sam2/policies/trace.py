"""Which memories fed SAM 2's prediction of an object on a frame, recorded while it runs.

SAM 2 (sam2 1.1.0, ``SAM2Base._prepare_memory_conditioned_features`` in
``sam2/modeling/sam2_base.py``) conditions a frame's image features on a *memory bank*
before decoding a mask:

* the memories of the **conditioning frames** (the prompted frames; all of them, or the
  ``max_cond_frames_in_attn`` closest), temporal position 0;
* ``num_maskmem - 1`` (6 in every SAM 2.1 config) **non-conditioning memories**: sam2 takes the
  frame right behind and then every ``memory_temporal_stride_for_eval``-th frame further back;
  SAMURAI keeps only frames whose scores pass its thresholds; SAM2Long reads those of each
  memory pathway;
* the **object pointers** (one token per frame, from the decoder's output token) of the
  conditioning frames and of up to ``max_obj_ptrs_in_encoder - 1`` (15) recent frames.

Nothing of this is stored by sam2. This module records it from what the model actually read,
not by recomputing the rules:

* :class:`MemoryTracer` (installed by :class:`~workbench.backends.sam2.video.SAM2VideoBackend`)
  replaces the predictor's ``_prepare_memory_conditioned_features`` by a call of the class's own
  method (sam2's, or the restatement of :mod:`.predictor` under SAMURAI) on a *read-recording
  view* of ``output_dict``: every stored frame output the method reads ``maskmem_features`` from
  (a spatial memory) or ``obj_ptr`` from (an object pointer) is logged, in reading order. Values
  are passed through untouched, so outputs are bit for bit those of the plain predictor. A
  one-shot forward hook on ``sam_mask_decoder`` keeps the candidates' predicted IoUs of the
  decoder call that follows (and removes itself). Policies that install their own ``_prepare_memory_conditioned_features``
  (SAM2Long) are installed on top of the tracer, and their fallback to sam2's method goes through it.
* A policy that gathers memory with its own code (SAM2Long's pathways: several decoder calls
  per frame, one per pathway) stores what the pathway that made the output read in the frame's
  output under :data:`TRACE_KEY`; that record wins over the tracer's log.
* Policies with scores of their own implement :class:`~.base.FrameScores`.

:func:`memory_trace` assembles a :class:`~workbench.types.MemoryTrace` from these records.

Score names (:attr:`~workbench.types.MemoryTrace.policy_scores`)
-----------------------------------------------------------------
Every policy: ``object_score_logit`` (the stored object score, > 0: present) and, when the decoder
ran with memory, ``pred_iou_<i>`` (its predicted IoU of candidate ``i``; sam2 keeps the highest).
SAMURAI and SAM2Long add theirs (:meth:`.samurai.SamuraiPolicy.frame_scores`,
:meth:`.sam2long.SAM2LongPolicy.frame_scores`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sam2.modeling.sam2_utils import select_closest_cond_frames

from ....types import MemoryTrace
from .base import FrameScores
from .predictor import find_obj_id, installed_policy

TRACE_KEY = "workbench_memory_trace"
"""Key of a frame output's own memory record (plain data, see :meth:`MemoryReads.as_record`),
written by policies that gather memory themselves (SAM2Long)."""

MEMORY_KEY = "maskmem_features"
"""Reading this from a stored frame output means its spatial memory is attended."""

POINTER_KEY = "obj_ptr"
"""Reading this from a stored frame output means its object pointer is attended."""


@dataclass(frozen=True)
class MemoryReads:
    """What one frame inference of one object read from the memory bank.

    Attributes
    ----------
    policy : str
        Tracking policy installed when it ran (``"sam2"`` without one).
    cond_frames, non_cond_frames, obj_ptr_frames : tuple of int
        As :class:`~workbench.types.MemoryTrace`, in reading order.
    pred_ious : torch.Tensor or None
        ``(1, M)`` predicted IoUs of the decoder call that followed (kept as the tensor, on its
        device, so recording never waits for the GPU; read on demand).
    """

    policy: str
    cond_frames: tuple[int, ...] = ()
    non_cond_frames: tuple[int, ...] = ()
    obj_ptr_frames: tuple[int, ...] = ()
    pred_ious: Any = None

    def as_record(self) -> dict:
        """Plain data for a frame output's :data:`TRACE_KEY` (without ``pred_ious``)."""
        return {
            "policy": self.policy,
            "cond": list(self.cond_frames),
            "non_cond": list(self.non_cond_frames),
            "obj_ptr": list(self.obj_ptr_frames),
        }

    @classmethod
    def from_record(cls, record: Mapping) -> MemoryReads:
        """Inverse of :meth:`as_record`."""
        return cls(
            str(record["policy"]),
            tuple(int(f) for f in record["cond"]),
            tuple(int(f) for f in record["non_cond"]),
            tuple(int(f) for f in record["obj_ptr"]),
        )

    def pred_iou_list(self) -> list[float]:
        """The decoder's predicted IoUs as floats (empty when not recorded)."""
        if self.pred_ious is None:
            return []
        return [float(v) for v in self.pred_ious.float().reshape(-1).tolist()]


# -- read-recording views of sam2's output dicts --------------------------------------------------
class _EntryView(Mapping):
    """A stored frame output whose reads of :data:`MEMORY_KEY` / :data:`POINTER_KEY` are logged."""

    __slots__ = ("_entry", "_frame", "_from_cond", "_log")

    def __init__(self, entry, frame: int, from_cond: bool, log: list):
        self._entry, self._frame, self._from_cond, self._log = entry, frame, from_cond, log

    def __getitem__(self, key):
        value = self._entry[key]
        if key in (MEMORY_KEY, POINTER_KEY):
            self._log.append((key, self._frame, self._from_cond))
        return value

    def __iter__(self) -> Iterator:
        return iter(self._entry)

    def __len__(self) -> int:
        return len(self._entry)

    def __contains__(self, key) -> bool:
        return key in self._entry


class _OutputsView(Mapping):
    """``cond_frame_outputs`` / ``non_cond_frame_outputs`` handing out :class:`_EntryView` s."""

    __slots__ = ("_from_cond", "_log", "_outputs")

    def __init__(self, outputs, from_cond: bool, log: list):
        self._outputs, self._from_cond, self._log = outputs, from_cond, log

    def __getitem__(self, frame):
        return _EntryView(self._outputs[frame], int(frame), self._from_cond, self._log)

    def __iter__(self) -> Iterator:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def __contains__(self, frame) -> bool:
        return frame in self._outputs


def recording_view(output_dict: Mapping, log: list) -> dict:
    """A copy of ``output_dict`` (one object's ``output_dict_per_obj`` entry) whose frame outputs
    log ``(key, frame, from_cond)`` to ``log`` whenever :data:`MEMORY_KEY` or
    :data:`POINTER_KEY` is read from them. Values are the originals."""
    view = dict(output_dict)
    view["cond_frame_outputs"] = _OutputsView(output_dict["cond_frame_outputs"], True, log)
    view["non_cond_frame_outputs"] = _OutputsView(output_dict["non_cond_frame_outputs"], False, log)
    return view


def reads_from_log(
    log: list, frame_idx: int, cond_outputs: Mapping, max_cond_frames_in_attn: int, policy: str
) -> MemoryReads:
    """Sort a :func:`recording_view` log into conditioning memories, non-conditioning memories
    and object pointers. A conditioning frame that sam2's own ``select_closest_cond_frames``
    (the call the method made) left out and that was read in a recent-memory slot counts as
    non-conditioning, as sam2 attends to it."""
    selected: set = set()
    if any(from_cond for _, _, from_cond in log):
        selected = set(select_closest_cond_frames(frame_idx, cond_outputs, max_cond_frames_in_attn)[0])
    cond, non_cond, ptr = [], [], []
    for key, frame, from_cond in log:
        if key == POINTER_KEY:
            ptr.append(frame)
        elif from_cond and frame in selected:
            cond.append(frame)
        else:
            non_cond.append(frame)
    return MemoryReads(policy, tuple(cond), tuple(non_cond), tuple(ptr))


def policy_name(predictor) -> str:
    """Name of the policy installed on ``predictor`` (``"sam2"`` without one)."""
    policy = installed_policy(predictor)
    return "sam2" if policy is None else str(policy.name)


# -- the tracer --------------------------------------------------------------------------------
class MemoryTracer:
    """Records, per ``(obj_id, frame_idx)``, the memories each frame inference of a
    ``SAM2VideoPredictor`` read (see the module docstring).

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        sam2 1.1.0's video predictor (with or without a tracking policy).

    Attributes
    ----------
    log : dict
        ``(obj_id, frame_idx) -> MemoryReads`` of the last inference of each; plain values, so a
        shallow copy is a snapshot.
    inference_state : dict or None
        The state whose objects are followed (set by the backend); frames of other states are
        run without recording.
    """

    ATTRIBUTE = "_prepare_memory_conditioned_features"
    """The predictor method the tracer stands in for (as an instance attribute)."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.inference_state: dict | None = None
        self.log: dict[tuple[int, int], MemoryReads] = {}
        self._pending: tuple[int, int] | None = None  # the frame whose decoder call comes next
        self._hook: Any = None  # its one-shot hook on the mask decoder

    def __getstate__(self) -> dict:
        """Pickling a predictor (e.g. for a worker process) carries the tracer but not what it
        recorded, which belongs to a live ``inference_state``."""
        return {**self.__dict__, "inference_state": None, "log": {}, "_pending": None, "_hook": None}

    # -- installation ---------------------------------------------------------------------------
    @property
    def attached(self) -> bool:
        """The predictor runs its memory gathering through this tracer."""
        return getattr(self.predictor.__dict__.get(self.ATTRIBUTE), "__self__", None) is self

    def attach(self) -> None:
        """Stand in for ``_prepare_memory_conditioned_features`` (idempotent). Install tracking
        policies that replace that method *after* this (the backend does), so their fallback to
        sam2's method is recorded."""
        if not self.attached:
            setattr(self.predictor, self.ATTRIBUTE, self._prepare_memory_conditioned_features)

    def detach(self) -> None:
        """Stop recording: remove the stand-in (when it is still ours) and any pending decoder hook."""
        if self.attached:
            self.predictor.__dict__.pop(self.ATTRIBUTE, None)
        self._unhook()

    def _unhook(self) -> None:
        hook, self._hook, self._pending = self._hook, None, None
        if hook is not None:
            hook.remove()

    # -- recording -------------------------------------------------------------------------------
    def _obj_id(self, output_dict) -> int | None:
        state = self.inference_state
        return None if state is None else find_obj_id(state, output_dict)

    def _prepare_memory_conditioned_features(
        self,
        frame_idx,
        is_init_cond_frame,
        current_vision_feats,
        current_vision_pos_embeds,
        feat_sizes,
        output_dict,
        num_frames,
        track_in_reverse=False,
    ):
        pred = self.predictor
        method = type(pred)._prepare_memory_conditioned_features
        self._unhook()
        obj_id = self._obj_id(output_dict)
        log: list = []
        result = method(
            pred,
            frame_idx=frame_idx,
            is_init_cond_frame=is_init_cond_frame,
            current_vision_feats=current_vision_feats,
            current_vision_pos_embeds=current_vision_pos_embeds,
            feat_sizes=feat_sizes,
            output_dict=output_dict if obj_id is None else recording_view(output_dict, log),
            num_frames=num_frames,
            track_in_reverse=track_in_reverse,
        )
        if obj_id is not None:
            key = (obj_id, int(frame_idx))
            self.log[key] = reads_from_log(
                log, int(frame_idx), output_dict["cond_frame_outputs"], pred.max_cond_frames_in_attn, policy_name(pred)
            )
            # the decoder call that follows belongs to this frame: a hook for that one call only,
            # so nothing stays on the decoder between frames
            self._pending = key
            self._hook = pred.sam_mask_decoder.register_forward_hook(self._decoder_hook)
        return result

    def _decoder_hook(self, module, args, output) -> None:
        key = self._pending
        self._unhook()
        if key is not None and key in self.log:
            # a copy (an asynchronous device copy, no wait): compiled decoders may reuse their output buffers
            self.log[key] = dataclasses.replace(self.log[key], pred_ious=output[1].detach().clone())

    def record_without_memory(self, obj_id: int, frame_idx: int) -> None:
        """Note that ``obj_id`` is predicted on ``frame_idx`` from a prompt alone (a mask prompt,
        which sam2 uses as the output without the decoder); a frame inference that does read
        memory replaces the note."""
        self.log[(int(obj_id), int(frame_idx))] = MemoryReads(policy_name(self.predictor))

    def forget_object(self, obj_id: int) -> None:
        """Drop every record of ``obj_id``."""
        self.log = {k: v for k, v in self.log.items() if k[0] != obj_id}


def _stored_output(inference_state: dict, obj_idx: int, frame_idx: int):
    """``(output, is_cond_frame)`` of one object on one frame: the newest, i.e. a prompt's
    temporary output before the stored one; ``(None, False)`` when there is none."""
    for per_obj in (inference_state["temp_output_dict_per_obj"], inference_state["output_dict_per_obj"]):
        d = per_obj.get(obj_idx)
        if d is None:
            continue
        for storage_key, is_cond in (("cond_frame_outputs", True), ("non_cond_frame_outputs", False)):
            out = d[storage_key].get(frame_idx)
            if out is not None:
                return out, is_cond
    return None, False


def memory_trace(
    inference_state: dict, predictor, log: Mapping[tuple[int, int], MemoryReads], frame_idx: int, obj_id: int
) -> MemoryTrace | None:
    """The :class:`~workbench.types.MemoryTrace` of ``obj_id`` on ``frame_idx``: the frame
    output's own record (:data:`TRACE_KEY`) or else the tracer's ``log``, the stored object
    score, the decoder's predicted IoUs and the scores of the installed policy when it made the
    prediction (:class:`~.base.FrameScores`). None when the object has no output on the frame
    or no record of how it was made."""
    obj_idx = inference_state["obj_id_to_idx"].get(obj_id)
    if obj_idx is None:
        return None
    out, is_cond = _stored_output(inference_state, obj_idx, frame_idx)
    if out is None:
        return None
    own = out.get(TRACE_KEY)
    reads = MemoryReads.from_record(own) if own is not None else log.get((int(obj_id), int(frame_idx)))
    if reads is None:
        return None
    scores: dict[str, float] = {}
    logit = out.get("object_score_logits")
    if logit is not None:
        scores["object_score_logit"] = float(logit.float().reshape(-1)[0].item())
    for i, v in enumerate(reads.pred_iou_list()):
        scores[f"pred_iou_{i}"] = v
    policy = installed_policy(predictor)
    if policy is not None and policy.name == reads.policy and isinstance(policy, FrameScores):
        scores.update(policy.frame_scores(int(obj_id), int(frame_idx), out))
    return MemoryTrace(
        frame_idx=int(frame_idx),
        obj_id=int(obj_id),
        policy=reads.policy,
        is_cond_frame=is_cond,
        cond_frames=reads.cond_frames,
        non_cond_frames=reads.non_cond_frames,
        obj_ptr_frames=reads.obj_ptr_frames,
        policy_scores=scores,
    )


__all__ = [
    "MEMORY_KEY",
    "POINTER_KEY",
    "TRACE_KEY",
    "MemoryReads",
    "MemoryTracer",
    "memory_trace",
    "policy_name",
    "reads_from_log",
    "recording_view",
]
