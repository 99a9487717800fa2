"""Plug a tracking policy into sam2 1.1.0's ``SAM2VideoPredictor``.

Mechanism (chosen as the least invasive that composes with the workbench's video backend)
------------------------------------------------------------------------------------------
:func:`apply_policy` takes a predictor *already built* (by
:func:`workbench.backends.sam2.loading.build_sam2_model` with ``mode="video"``, or sam2's own
``build_sam2_video_predictor``) and

1. swaps its class for :class:`SAM2VideoPredictorWithPolicy`, a subclass of
   ``SAM2VideoPredictor`` that adds no parameter, buffer or submodule (the state dict, the
   weights, the instance attributes, ``inference_state`` and any hook registered on a
   submodule stay as they are; the swap is undone by :func:`remove_policy`);
2. keeps the policy object as ``predictor.tracking_policy``;
3. if the policy pins the attention kernel (SAMURAI does, as its reference did), swaps the
   class of each attention module of ``sam2/modeling/sam/transformer.py`` (``Attention`` in the
   mask decoder's two-way transformer, ``RoPEAttention`` in memory attention) for a subclass
   whose ``forward`` runs under ``torch.nn.attention.sdpa_kernel(<backends>)``. The image
   encoder (Hiera) keeps torch's default kernel, as in the reference.

Why not Hydra's ``++model._target_=...``: the workbench builds predictors through
``build_sam2_model`` (official config, its own overrides, weights loaded afterwards); a class
swap after building needs no change there, works on predictors that already exist (a session
can switch policy without rebuilding or reloading weights) and keeps one class for every
policy. :class:`SAM2VideoPredictorWithPolicy` is a module-level class, so a predictor with a
policy still pickles. ``SAM2VideoPredictorVOS`` (``vos_optimized=True``) is refused: it
compiles and overrides the very methods the policy needs.

What the subclass overrides (every override calls the policy's
:class:`~workbench.backends.sam2.policies.base.PredictorHooks`)
-------------------------------------------------------------------------------------------------
* ``_run_single_frame_inference``: finds which object the call is for (the ``output_dict``
  sam2 passes is one of ``inference_state["output_dict_per_obj"]``; its index maps to an
  ``obj_id``) and brackets the call with ``begin_frame`` / ``end_frame``. sam2 1.1.0 runs every
  decoder call of a video (prompts, corrections and propagation) through this method, one
  object at a time (``batch_size=1``), so the policy's per-object state is well defined.
* ``_forward_sam_heads``: restates sam2 1.1.0's ``SAM2Base._forward_sam_heads``
  (``sam2/modeling/sam2_base.py``, Apache-2.0, Meta) step by step, with two hooks: the
  object-score threshold of "object appears" (sam2: 0; SAMURAI: ``min_obj_score_logits``) and
  the choice among the multimask candidates (sam2: highest predicted IoU).
* ``_use_mask_as_output``: tells the policy the output is the input mask.
* ``_prepare_memory_conditioned_features``: restates sam2 1.1.0's function step by step, with
  the choice of the non-conditioning memory frames delegated to the policy (object pointers
  are chosen as sam2 does, as in SAMURAI).
* ``init_state`` / ``reset_state``: reset the policy (the reference builds a new predictor, and
  so a new filter, for every video); ``remove_object``: the policy forgets the object.

Composition with :class:`workbench.backends.sam2.video.SAM2VideoBackend`: the backend only
calls public predictor methods, registers a forward pre-hook on ``memory_attention`` and
replaces per-frame outputs by :class:`~workbench.backends.sam2.memory.SpilledOutput` (read
back exactly on access). None of that is touched here: the memory hook still fires (the
restated function calls ``self.memory_attention`` like sam2), the policy reads its scores from
its own state (not from the spilled entries) and only tests membership in
``non_cond_frame_outputs``, and the frame loader hook replaces ``load_video_frames``, which is
below ``init_state``. The backend's :class:`~.trace.MemoryTracer` (the teaching view) stands in
for ``_prepare_memory_conditioned_features`` as an instance attribute that calls the class's
method, i.e. the restatement above, on a read-recording view of ``output_dict``; policies that
replace the method themselves (SAM2Long) are installed on top of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from sam2.modeling.sam.transformer import Attention, RoPEAttention
from sam2.modeling.sam2_base import NO_OBJ_SCORE
from sam2.modeling.sam2_utils import get_1d_sine_pe, select_closest_cond_frames
from sam2.sam2_video_predictor import SAM2VideoPredictor

from ....errors import BackendError, ConfigError
from .base import InstalledPolicy

# -- attention kernel --------------------------------------------------------------------------
if TYPE_CHECKING:  # mixed in before sam2's attention modules (untyped: Any to mypy)
    _AttentionBase: Any = Attention
else:
    _AttentionBase = object


class _PinnedKernelMixin(_AttentionBase):
    """``forward`` under ``sdpa_kernel(self._policy_sdpa_backends)``; if that raises, torch's
    default kernels from then on (for every attention module of the predictor), which is what
    the reference's ``sdp_kernel_context`` fallback does (``ALLOW_ALL_KERNELS``)."""

    _policy_sdpa_backends: tuple[str, ...] | None = None  # SDPBackend names (the enum does not pickle)
    _policy_sdpa_fallback: dict | None = None

    def forward(self, *args, **kwargs):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        names, fallback = self._policy_sdpa_backends, self._policy_sdpa_fallback
        if not names or (fallback is not None and fallback.get("all_kernels")):
            return super().forward(*args, **kwargs)
        try:
            with sdpa_kernel([getattr(SDPBackend, n) for n in names]):
                return super().forward(*args, **kwargs)
        except RuntimeError:
            if fallback is not None:
                fallback["all_kernels"] = True
            return super().forward(*args, **kwargs)


class PinnedKernelAttention(_PinnedKernelMixin, Attention):
    """sam2's ``Attention`` with the scaled-dot-product kernel set by the tracking policy."""


class PinnedKernelRoPEAttention(_PinnedKernelMixin, RoPEAttention):
    """sam2's ``RoPEAttention`` with the scaled-dot-product kernel set by the tracking policy."""


_PINNED = {Attention: PinnedKernelAttention, RoPEAttention: PinnedKernelRoPEAttention}
_UNPINNED = {v: k for k, v in _PINNED.items()}


def _pin_attention(predictor, backends) -> None:
    fallback: dict = {"all_kernels": False}
    for module in predictor.modules():
        cls = _UNPINNED.get(type(module), type(module))
        if cls in _PINNED:
            module.__class__ = _PINNED[cls]
            module._policy_sdpa_backends = tuple(b.name for b in backends)
            module._policy_sdpa_fallback = fallback


def _unpin_attention(predictor) -> None:
    for module in predictor.modules():
        if type(module) in _UNPINNED:
            module.__class__ = _UNPINNED[type(module)]
            for name in ("_policy_sdpa_backends", "_policy_sdpa_fallback"):
                module.__dict__.pop(name, None)


def pinned_attention_backends(predictor) -> list | None:
    """The kernels (``SDPBackend`` list) the predictor's transformer attention is pinned to
    (None: torch's default)."""
    from torch.nn.attention import SDPBackend

    for module in predictor.modules():
        if type(module) in _UNPINNED:
            return [getattr(SDPBackend, n) for n in module._policy_sdpa_backends or ()] or None
    return None


# -- the predictor -----------------------------------------------------------------------------
def find_obj_id(inference_state: dict, output_dict) -> int | None:
    """The ``obj_id`` whose ``output_dict_per_obj`` entry is ``output_dict`` (the dict sam2 1.1.0
    passes to a frame inference), or None when it belongs to no object."""
    for obj_idx, d in inference_state["output_dict_per_obj"].items():
        if d is output_dict:
            return int(inference_state["obj_idx_to_id"][obj_idx])
    return None


def _obj_id_of(inference_state: dict, output_dict) -> int:
    obj_id = find_obj_id(inference_state, output_dict)
    if obj_id is not None:
        return obj_id
    raise BackendError(
        "Tracking policy: a frame inference ran on an output dict that belongs to no object "
        "of inference_state (sam2 1.1.0 passes output_dict_per_obj[obj_idx])."
    )


if TYPE_CHECKING:  # the mixin only ever sits in front of SAM2VideoPredictor (untyped: Any to mypy)
    _PredictorBase: Any = SAM2VideoPredictor
else:
    _PredictorBase = object


class PolicyPredictorMixin(_PredictorBase):
    """The overrides that route sam2 1.1.0's video predictor through ``self.tracking_policy``
    (see the module docstring). Mixed in before ``SAM2VideoPredictor``."""

    tracking_policy: InstalledPolicy  # set on the instance by apply_policy before any call

    # -- lifecycle ------------------------------------------------------------------------------
    def init_state(self, *args, **kwargs):
        state = super().init_state(*args, **kwargs)
        self.tracking_policy.reset()
        return state

    def reset_state(self, inference_state):
        super().reset_state(inference_state)
        self.tracking_policy.reset()

    def remove_object(self, inference_state, obj_id, strict=False, need_output=True):
        result = super().remove_object(inference_state, obj_id, strict=strict, need_output=need_output)
        if obj_id not in inference_state["obj_ids"]:
            self.tracking_policy.forget_object(obj_id)
        return result

    # -- per-frame context --------------------------------------------------------------------
    def _run_single_frame_inference(
        self,
        inference_state,
        output_dict,
        frame_idx,
        batch_size,
        is_init_cond_frame,
        point_inputs,
        mask_inputs,
        reverse,
        run_mem_encoder,
        prev_sam_mask_logits=None,
    ):
        policy = self.tracking_policy
        policy.begin_frame(
            _obj_id_of(inference_state, output_dict), int(frame_idx), bool(reverse), int(inference_state["num_frames"])
        )
        completed = False
        try:
            result = super()._run_single_frame_inference(
                inference_state=inference_state,
                output_dict=output_dict,
                frame_idx=frame_idx,
                batch_size=batch_size,
                is_init_cond_frame=is_init_cond_frame,
                point_inputs=point_inputs,
                mask_inputs=mask_inputs,
                reverse=reverse,
                run_mem_encoder=run_mem_encoder,
                prev_sam_mask_logits=prev_sam_mask_logits,
            )
            completed = True
            return result
        finally:
            policy.end_frame(completed)

    # -- mask selection (sam2 1.1.0 SAM2Base._forward_sam_heads, restated with hooks) ----------
    def _forward_sam_heads(
        self, backbone_features, point_inputs=None, mask_inputs=None, high_res_features=None, multimask_output=False
    ):
        policy = self.tracking_policy
        B = backbone_features.size(0)
        device = backbone_features.device
        assert backbone_features.size(1) == self.sam_prompt_embed_dim
        assert backbone_features.size(2) == self.sam_image_embedding_size
        assert backbone_features.size(3) == self.sam_image_embedding_size

        # a) point prompts, or one padding point (label -1)
        if point_inputs is not None:
            sam_point_coords = point_inputs["point_coords"]
            sam_point_labels = point_inputs["point_labels"]
            assert sam_point_coords.size(0) == B and sam_point_labels.size(0) == B
        else:
            sam_point_coords = torch.zeros(B, 1, 2, device=device)
            sam_point_labels = -torch.ones(B, 1, dtype=torch.int32, device=device)

        # b) mask prompt, resized to the prompt encoder's input size when needed
        if mask_inputs is not None:
            assert len(mask_inputs.shape) == 4 and mask_inputs.shape[:2] == (B, 1)
            if mask_inputs.shape[-2:] != self.sam_prompt_encoder.mask_input_size:
                sam_mask_prompt = F.interpolate(
                    mask_inputs.float(),
                    size=self.sam_prompt_encoder.mask_input_size,
                    align_corners=False,
                    mode="bilinear",
                    antialias=True,
                )
            else:
                sam_mask_prompt = mask_inputs
        else:
            sam_mask_prompt = None

        sparse_embeddings, dense_embeddings = self.sam_prompt_encoder(
            points=(sam_point_coords, sam_point_labels), boxes=None, masks=sam_mask_prompt
        )
        low_res_multimasks, ious, sam_output_tokens, object_score_logits = self.sam_mask_decoder(
            image_embeddings=backbone_features,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse_embeddings,
            dense_prompt_embeddings=dense_embeddings,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        if self.pred_obj_scores:
            # hook 1: sam2 compares with 0, SAMURAI with min_obj_score_logits
            is_obj_appearing = object_score_logits > policy.object_score_threshold()
            low_res_multimasks = torch.where(is_obj_appearing[:, None, None], low_res_multimasks, NO_OBJ_SCORE)

        low_res_multimasks = low_res_multimasks.float()
        high_res_multimasks = F.interpolate(
            low_res_multimasks, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )

        sam_output_token = sam_output_tokens[:, 0]
        # hook 2: which candidate to keep (None: sam2's argmax of the predicted IoU)
        chosen = policy.choose_mask(ious, high_res_multimasks, object_score_logits, bool(multimask_output))
        if multimask_output:
            best_iou_inds = torch.argmax(ious, dim=-1) if chosen is None else chosen
            batch_inds = torch.arange(B, device=device)
            low_res_masks = low_res_multimasks[batch_inds, best_iou_inds].unsqueeze(1)
            high_res_masks = high_res_multimasks[batch_inds, best_iou_inds].unsqueeze(1)
            if sam_output_tokens.size(1) > 1:
                sam_output_token = sam_output_tokens[batch_inds, best_iou_inds]
        else:
            low_res_masks, high_res_masks = low_res_multimasks, high_res_multimasks

        # object pointer from the output token, with occlusion handling
        obj_ptr = self.obj_ptr_proj(sam_output_token)
        if self.pred_obj_scores:
            if self.soft_no_obj_ptr:
                lambda_is_obj_appearing = object_score_logits.sigmoid()
            else:
                lambda_is_obj_appearing = is_obj_appearing.float()
            if self.fixed_no_obj_ptr:
                obj_ptr = lambda_is_obj_appearing * obj_ptr
            obj_ptr = obj_ptr + (1 - lambda_is_obj_appearing) * self.no_obj_ptr

        return (
            low_res_multimasks,
            high_res_multimasks,
            ious,
            low_res_masks,
            high_res_masks,
            obj_ptr,
            object_score_logits,
        )

    def _use_mask_as_output(self, backbone_features, high_res_features, mask_inputs):
        out = super()._use_mask_as_output(backbone_features, high_res_features, mask_inputs)
        self.tracking_policy.mask_as_output(out[6])
        return out

    # -- memory selection (sam2 1.1.0 SAM2Base._prepare_memory_conditioned_features, restated) --
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
        B = current_vision_feats[-1].size(1)
        C = self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        if self.num_maskmem == 0:  # no memory: SAM on single images
            return current_vision_feats[-1].permute(1, 2, 0).view(B, C, H, W)

        num_obj_ptr_tokens = 0
        tpos_sign_mul = -1 if track_in_reverse else 1
        if not is_init_cond_frame:
            to_cat_memory, to_cat_memory_pos_embed = [], []
            assert len(output_dict["cond_frame_outputs"]) > 0
            cond_outputs = output_dict["cond_frame_outputs"]
            selected_cond_outputs, unselected_cond_outputs = select_closest_cond_frames(
                frame_idx, cond_outputs, self.max_cond_frames_in_attn
            )
            t_pos_and_prevs = [(0, out) for out in selected_cond_outputs.values()]
            # the non-conditioning memory frames: the policy's choice, else sam2's
            chosen = self.tracking_policy.select_memory(
                frame_idx,
                output_dict["non_cond_frame_outputs"],
                unselected_cond_outputs,
                bool(track_in_reverse),
                int(self.num_maskmem),
                int(self.max_obj_ptrs_in_encoder),
                num_frames,
            )
            if chosen is None:
                chosen = self._sam2_memory_frames(frame_idx, output_dict, unselected_cond_outputs, track_in_reverse)
            t_pos_and_prevs.extend(chosen)

            for t_pos, prev in t_pos_and_prevs:
                if prev is None:
                    continue  # padding
                feats = prev["maskmem_features"].to(device, non_blocking=True)
                to_cat_memory.append(feats.flatten(2).permute(2, 0, 1))
                maskmem_enc = prev["maskmem_pos_enc"][-1].to(device)
                maskmem_enc = maskmem_enc.flatten(2).permute(2, 0, 1)
                maskmem_enc = maskmem_enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1]
                to_cat_memory_pos_embed.append(maskmem_enc)

            # object pointers, as sam2 chooses them
            if self.use_obj_ptrs_in_encoder:
                max_obj_ptrs_in_encoder = min(num_frames, self.max_obj_ptrs_in_encoder)
                if not self.training and self.only_obj_ptrs_in_the_past_for_eval:
                    ptr_cond_outputs = {
                        t: out
                        for t, out in selected_cond_outputs.items()
                        if (t >= frame_idx if track_in_reverse else t <= frame_idx)
                    }
                else:
                    ptr_cond_outputs = selected_cond_outputs
                pos_and_ptrs = [
                    (
                        (
                            (frame_idx - t) * tpos_sign_mul
                            if self.use_signed_tpos_enc_to_obj_ptrs
                            else abs(frame_idx - t)
                        ),
                        out["obj_ptr"],
                    )
                    for t, out in ptr_cond_outputs.items()
                ]
                for t_diff in range(1, max_obj_ptrs_in_encoder):
                    t = frame_idx + t_diff if track_in_reverse else frame_idx - t_diff
                    if t < 0 or (num_frames is not None and t >= num_frames):
                        break
                    out = output_dict["non_cond_frame_outputs"].get(t, unselected_cond_outputs.get(t, None))
                    if out is not None:
                        pos_and_ptrs.append((t_diff, out["obj_ptr"]))
                if len(pos_and_ptrs) > 0:
                    pos_list, ptrs_list = zip(*pos_and_ptrs)
                    obj_ptrs = torch.stack(ptrs_list, dim=0)
                    if self.add_tpos_enc_to_obj_ptrs:
                        t_diff_max = max_obj_ptrs_in_encoder - 1
                        tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
                        obj_pos = torch.tensor(pos_list).to(device=device, non_blocking=True)
                        obj_pos = get_1d_sine_pe(obj_pos / t_diff_max, dim=tpos_dim)
                        obj_pos = self.obj_ptr_tpos_proj(obj_pos)
                        obj_pos = obj_pos.unsqueeze(1).expand(-1, B, self.mem_dim)
                    else:
                        obj_pos = obj_ptrs.new_zeros(len(pos_list), B, self.mem_dim)
                    if self.mem_dim < C:
                        obj_ptrs = obj_ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim)
                        obj_ptrs = obj_ptrs.permute(0, 2, 1, 3).flatten(0, 1)
                        obj_pos = obj_pos.repeat_interleave(C // self.mem_dim, dim=0)
                    to_cat_memory.append(obj_ptrs)
                    to_cat_memory_pos_embed.append(obj_pos)
                    num_obj_ptr_tokens = obj_ptrs.shape[0]
                else:
                    num_obj_ptr_tokens = 0
        else:
            if self.directly_add_no_mem_embed:
                pix_feat_with_mem = current_vision_feats[-1] + self.no_mem_embed
                return pix_feat_with_mem.permute(1, 2, 0).view(B, C, H, W)
            to_cat_memory = [self.no_mem_embed.expand(1, B, self.mem_dim)]
            to_cat_memory_pos_embed = [self.no_mem_pos_enc.expand(1, B, self.mem_dim)]

        memory = torch.cat(to_cat_memory, dim=0)
        memory_pos_embed = torch.cat(to_cat_memory_pos_embed, dim=0)
        pix_feat_with_mem = self.memory_attention(
            curr=current_vision_feats,
            curr_pos=current_vision_pos_embeds,
            memory=memory,
            memory_pos=memory_pos_embed,
            num_obj_ptr_tokens=num_obj_ptr_tokens,
        )
        return pix_feat_with_mem.permute(1, 2, 0).view(B, C, H, W)

    def _sam2_memory_frames(self, frame_idx, output_dict, unselected_cond_outputs, track_in_reverse):
        """sam2 1.1.0's choice: the frame right behind, then every ``stride``-th frame further
        back, ``num_maskmem - 1`` slots (t_pos 1 = the oldest)."""
        stride = 1 if self.training else self.memory_temporal_stride_for_eval
        chosen = []
        for t_pos in range(1, self.num_maskmem):
            t_rel = self.num_maskmem - t_pos
            if t_rel == 1:
                prev_frame_idx = frame_idx + t_rel if track_in_reverse else frame_idx - t_rel
            elif not track_in_reverse:
                prev_frame_idx = ((frame_idx - 2) // stride) * stride
                prev_frame_idx = prev_frame_idx - (t_rel - 2) * stride
            else:
                prev_frame_idx = -(-(frame_idx + 2) // stride) * stride
                prev_frame_idx = prev_frame_idx + (t_rel - 2) * stride
            out = output_dict["non_cond_frame_outputs"].get(prev_frame_idx, None)
            if out is None:
                out = unselected_cond_outputs.get(prev_frame_idx, None)
            chosen.append((t_pos, out))
        return chosen


class SAM2VideoPredictorWithPolicy(PolicyPredictorMixin, SAM2VideoPredictor):
    """``SAM2VideoPredictor`` (sam2 1.1.0) that tracks with ``self.tracking_policy``.

    Never built directly: :func:`apply_policy` gives a built predictor this class.
    """


def apply_policy(predictor, policy):
    """Make ``predictor`` track with ``policy`` (in place); returns the predictor.

    Parameters
    ----------
    predictor : SAM2VideoPredictor
        A built sam2 1.1.0 video predictor (e.g. ``build_sam2_model(..., mode="video")[0]``),
        with or without a policy already (it is replaced).
    policy : TrackingPolicy
        What :func:`~workbench.backends.sam2.policies.make_policy` returns. The plain
        ``"sam2"`` policy removes any installed one (the predictor is sam2's own again).

    Raises
    ------
    BackendError
        ``predictor`` is not a ``SAM2VideoPredictor`` (an image model, or
        ``SAM2VideoPredictorVOS`` from ``vos_optimized=True``, which is not supported).
    ConfigError
        ``policy`` is not a tracking policy.
    """
    install = getattr(policy, "install", None)
    if not callable(install):
        raise ConfigError(
            f"{policy!r} is not a tracking policy (it has no install(predictor) method); "
            "use workbench.backends.sam2.policies.make_policy(name, **params)."
        )
    if installed_policy(predictor) is not None and installed_policy(predictor) is not policy:
        remove_policy(predictor)  # one policy at a time (SAM2Long patches methods, SAMURAI swaps the class)
    return install(predictor)


def check_predictor(predictor) -> None:
    """Raise :class:`BackendError` unless ``predictor`` is a plain (or policy) sam2 1.1.0
    ``SAM2VideoPredictor``."""
    cls = type(predictor)
    if cls not in (SAM2VideoPredictor, SAM2VideoPredictorWithPolicy):
        what = "SAM2VideoPredictorVOS (vos_optimized=True)" if cls.__name__ == "SAM2VideoPredictorVOS" else cls.__name__
        raise BackendError(
            f"Tracking policies plug into sam2's SAM2VideoPredictor; got {what}. "
            "Build the model with mode='video' and vos_optimized=False."
        )


def install_hooks(predictor, policy):
    """Give ``predictor`` the policy class, ``policy`` and its attention kernel (used by
    policies' ``install``). Returns the predictor."""
    check_predictor(predictor)
    remove_policy(predictor)
    predictor.__class__ = SAM2VideoPredictorWithPolicy
    predictor.tracking_policy = policy
    backends = policy.attention_backends()
    if backends:
        _pin_attention(predictor, backends)
    return predictor


def remove_policy(predictor):
    """Undo :func:`apply_policy`: the predictor is sam2's ``SAM2VideoPredictor`` again, with
    torch's default attention kernels. Returns it."""
    uninstall = getattr(predictor.__dict__.get("tracking_policy"), "uninstall", None)
    if callable(uninstall):  # policies that patch methods and hooks (SAM2Long) undo them themselves
        uninstall()
    if isinstance(predictor, SAM2VideoPredictorWithPolicy):
        predictor.__class__ = SAM2VideoPredictor
    predictor.__dict__.pop("tracking_policy", None)
    _unpin_attention(predictor)
    return predictor


def installed_policy(predictor):
    """The policy ``predictor`` tracks with, or None for sam2's own behaviour."""
    return predictor.__dict__.get("tracking_policy")


__all__ = [
    "PinnedKernelAttention",
    "PinnedKernelRoPEAttention",
    "PolicyPredictorMixin",
    "SAM2VideoPredictorWithPolicy",
    "apply_policy",
    "check_predictor",
    "install_hooks",
    "installed_policy",
    "pinned_attention_backends",
    "remove_policy",
]
