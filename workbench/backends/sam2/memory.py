"""Bounded per-frame tracking state for ``SAM2VideoPredictor`` (``memory="bounded"``).

What grows with the video in ``inference_state`` (sam2 1.1.0)
-------------------------------------------------------------
Every tracked frame leaves one entry per object in
``output_dict_per_obj[obj_idx]["non_cond_frame_outputs"][frame_idx]``: ``maskmem_features``
(bf16, 64 x S/16 x S/16: 512 KB at S = 1024), ``pred_masks`` (float32 S/4 x S/4: 256 KB),
``obj_ptr`` (256 floats), ``object_score_logits`` and ``maskmem_pos_enc`` (a view of one
shared constant). About 0.75 MB per frame and object at 1024, i.e. 1.5 GB for 2000 frames.

Who reads an entry later
------------------------
* ``SAM2Base._prepare_memory_conditioned_features`` while tracking frame ``f`` in direction
  ``d``: ``maskmem_features`` / ``maskmem_pos_enc`` of the ``num_maskmem - 1`` frames behind
  ``f`` (``f - d``, then every ``memory_temporal_stride_for_eval``-th frame: at most
  ``(num_maskmem - 2) * stride + 1`` frames back) and ``obj_ptr`` of up to
  ``max_obj_ptrs_in_encoder - 1`` frames back (15 by default). So a single pass never reads
  an entry more than :func:`tracking_window` frames behind the frame it tracks.
* Any later call may read any old entry, though: a refinement click on frame ``f``
  (``add_new_points_or_box`` reads ``pred_masks`` of ``f``, ``_consolidate_temp_output_across_obj``
  those of the other objects, and the frame's inference reads the memories behind ``f``), a
  propagation started anywhere (it reads the window behind its start: the reverse pass of
  "both" reads the forward pass's frames after the start), ``clear_non_cond_mem_around_input``.

The bounded mode
----------------
Entries that fall more than the window behind the frame being tracked are *spilled*: their
tensors are written, byte for byte, to an anonymous temporary file and the entry is replaced
by a :class:`SpilledOutput`, a ``dict`` that reads a tensor back (same dtype, shape, strides
and device) whenever sam2 indexes it. Nothing is approximated, so every later read (clicks on
old frames, reverse passes, re-propagation) sees exactly what the full state would hold and
all masks stay identical to the reference predictor. Memory (RAM and GPU) then holds at most
``window + 1`` entries per object; the cost is disk space (the same 0.75 MB per frame and
object at 1024, freed when the video is closed or re-initialised) and a few small reads
when an old frame is revisited.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass

import torch

from .frames import LazyFrames

MEMORY_MODES = ("bounded", "full")


@dataclass(frozen=True, slots=True)
class SpillRef:
    """Where one tensor lies in a :class:`SpillStore`, and how to rebuild it."""

    offset: int
    nbytes: int
    dtype: torch.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    device: torch.device
    contiguous: bool


class SpillStore:
    """Append-only anonymous temporary file holding spilled tensors (deleted when closed or
    garbage-collected).

    Parameters
    ----------
    folder : str or Path, optional
        Where the file is created; default the system temporary folder.
    """

    def __init__(self, folder=None):
        # held open for the store's lifetime (closed in close() or when garbage-collected)
        self._file = tempfile.TemporaryFile(dir=None if folder is None else str(folder))  # noqa: SIM115
        self._fd = self._file.fileno()
        self._lock = threading.Lock()
        self.bytes_written = 0
        self.reads = 0
        self.views: dict[tuple, list] = {}  # shared maskmem_pos_enc lists (views of one constant)
        self._devices: dict[str, torch.device] = {}  # interned, so references stay small
        self._tuples: dict[tuple, tuple] = {}

    def put(self, tensor: torch.Tensor) -> SpillRef:
        """Write ``tensor``'s values; return the reference that :meth:`get` rebuilds it from."""
        t = tensor.detach()
        flat = t.contiguous().reshape(-1).cpu()
        data = flat.view(torch.uint8).numpy() if flat.numel() else None  # no copy for CPU tensors
        nbytes = 0 if data is None else int(data.nbytes)
        with self._lock:
            offset = self.bytes_written
            self.bytes_written += nbytes
        done = 0
        while data is not None and done < nbytes:
            done += os.pwrite(self._fd, data.data[done:], offset + done)
        device = self._devices.setdefault(str(t.device), t.device)
        shape, stride = tuple(t.shape), tuple(t.stride())
        shape, stride = self._tuples.setdefault(shape, shape), self._tuples.setdefault(stride, stride)
        return SpillRef(offset, nbytes, t.dtype, shape, stride, device, t.is_contiguous())

    def get(self, ref: SpillRef) -> torch.Tensor:
        """A new tensor equal, bit for bit, to the one :meth:`put` wrote."""
        buf = torch.empty(ref.nbytes, dtype=torch.uint8)
        got = os.preadv(self._fd, [buf.numpy().data], ref.offset) if ref.nbytes else 0
        self.reads += 1
        if got != ref.nbytes:
            from ...errors import BackendError

            raise BackendError(
                f"The spilled tracking state is truncated ({got} of {ref.nbytes} bytes at offset "
                f"{ref.offset}); was the temporary folder cleaned? Re-run init_state."
            )
        t = buf.view(ref.dtype).reshape(ref.shape)
        if not ref.contiguous:
            t = torch.empty_strided(ref.shape, ref.stride, dtype=ref.dtype).copy_(t)
        return t.to(ref.device) if ref.device.type != "cpu" else t

    def close(self) -> None:
        self._file.close()


class SpilledOutput(dict):
    """A per-frame output of ``inference_state`` whose tensors live in a :class:`SpillStore`.

    Reading a key (``out["maskmem_features"]``, ``out.get(...)``, ``values()``, ``items()``)
    returns the tensor read back from disk; the raw :class:`SpillRef` values are only seen
    through :meth:`raw_items` (used to copy entries for snapshots without reading them).
    """

    store: SpillStore | None = None

    def _load(self, value):
        if not isinstance(value, SpillRef):
            return value
        if self.store is None:
            from ...errors import BackendError

            raise BackendError("A spilled tracking output has no store to read it back from.")
        return self.store.get(value)

    def __getitem__(self, key):
        return self._load(dict.__getitem__(self, key))

    def get(self, key, default=None):
        return self[key] if key in self else default  # noqa: SIM401 - self[key] loads spilled values

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]

    def raw_items(self):
        """``(key, value)`` pairs with spilled tensors as :class:`SpillRef` (nothing read)."""
        return dict.items(self)

    def __reduce__(self):  # pickle / deepcopy: a plain dict of the tensors read back
        return (dict, (dict(self.items()),))

    def copy_refs(self) -> SpilledOutput:
        """A new :class:`SpilledOutput` sharing this one's references (nothing read)."""
        out = SpilledOutput(dict.items(self))
        out.store = self.store
        return out


def _view_key(views) -> tuple | None:
    if not isinstance(views, list) or not all(isinstance(v, torch.Tensor) for v in views):
        return None
    return tuple(
        (str(v.device), v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), v.stride(), v.dtype)
        for v in views
    )


def spill_output(out: dict, store: SpillStore) -> SpilledOutput:
    """Spill every tensor of one per-frame output except ``maskmem_pos_enc`` (a list of views
    of a constant shared by all frames: equal lists are replaced by one shared list, which
    reads the same values)."""
    items = []
    for k, v in out.items():
        if isinstance(v, torch.Tensor):
            v = store.put(v)
        elif (key := _view_key(v)) is not None:
            v = store.views.setdefault(key, v)
        items.append((k, v))
    spilled = SpilledOutput(items)
    spilled.store = store
    return spilled


def tracking_window(predictor) -> int:
    """How many frames behind the frame being tracked one pass may still read (see the
    module docstring): ``max(max_obj_ptrs_in_encoder - 1, (num_maskmem - 2) * stride + 1)``."""
    stride = max(1, int(getattr(predictor, "memory_temporal_stride_for_eval", 1)))
    mem = max(0, (int(predictor.num_maskmem) - 2) * stride + 1)
    ptr = int(predictor.max_obj_ptrs_in_encoder) - 1 if getattr(predictor, "use_obj_ptrs_in_encoder", True) else 0
    return max(mem, ptr, 1)


class StateTrimmer:
    """Keeps the non-conditioning outputs of ``inference_state`` within a window of the
    frame being tracked by spilling the others to a :class:`SpillStore`.

    Parameters
    ----------
    window : int
        Entries up to ``window`` frames behind the tracked frame stay in memory. Any value
        >= 0 gives exactly the same results (spilled entries are read back exactly); the
        default :func:`tracking_window` avoids reading back during a pass.
    folder : str or Path, optional
        Folder of the temporary spill file.
    """

    def __init__(self, window: int, folder=None):
        self.window = int(window)
        self.folder = folder
        self.store: SpillStore | None = None
        self._hot: dict[int, set[int]] | None = None
        self._step = 1

    def new_video(self) -> None:
        """Start a new store (the old one is freed once no snapshot refers to it)."""
        self.store = None
        self._hot = None

    def _store(self) -> SpillStore:
        if self.store is None:
            self.store = SpillStore(self.folder)
        return self.store

    def _spill(self, outputs: dict, frame_idx: int) -> None:
        out = outputs.get(frame_idx)
        if out is not None and not isinstance(out, SpilledOutput):
            outputs[frame_idx] = spill_output(out, self._store())

    def _behind(self, frame_idx: int, g: int) -> bool:
        return 0 <= (frame_idx - g) * self._step <= self.window

    def start_pass(self, reverse: bool) -> None:
        """Call before a propagation pass."""
        self._hot = None
        self._step = -1 if reverse else 1

    def after_frame(self, state: dict, frame_idx: int) -> None:
        """Call after the pass yielded ``frame_idx``: spill what fell out of the window (the
        first call of a pass scans every entry, later calls only the recent ones)."""
        per_obj = state["output_dict_per_obj"]
        if self._hot is None:
            self._hot = {}
            for obj_idx, d in per_obj.items():
                outs = d["non_cond_frame_outputs"]
                for g in [g for g, o in outs.items() if not isinstance(o, SpilledOutput)]:
                    if self._behind(frame_idx, g):
                        self._hot.setdefault(obj_idx, set()).add(g)
                    else:
                        self._spill(outs, g)
            return
        for obj_idx, d in per_obj.items():
            outs = d["non_cond_frame_outputs"]
            hot = self._hot.setdefault(obj_idx, set())
            if frame_idx in outs:
                hot.add(frame_idx)
            for g in [g for g in hot if not self._behind(frame_idx, g)]:
                hot.discard(g)
                self._spill(outs, g)

    def spill_all(self, state: dict) -> None:
        """Spill every non-conditioning entry still in memory (before a snapshot, so undo
        history never pins tracking tensors)."""
        for d in state["output_dict_per_obj"].values():
            outs = d["non_cond_frame_outputs"]
            for g in [g for g, o in outs.items() if not isinstance(o, SpilledOutput)]:
                self._spill(outs, g)
        self._hot = None


def state_nbytes(inference_state: dict) -> dict:
    """Memory held by an ``inference_state``: bytes of distinct tensor storages reachable
    from it (spilled entries count 0, a :class:`~workbench.backends.sam2.frames.LazyFrames`
    counts the frames it holds).

    Returns
    -------
    dict
        ``{"total": int, "images": int, "outputs": int, "tensors": int, "spilled": int}``:
        bytes in all, of the frames, of ``output_dict_per_obj``, number of distinct tensor
        storages, and number of spilled per-frame entries.
    """
    seen: set[tuple[str, int]] = set()
    counts = {"tensors": 0, "spilled": 0}

    def walk(x) -> int:
        if isinstance(x, SpilledOutput):
            counts["spilled"] += 1
            return sum(walk(v) for _, v in x.raw_items())
        if isinstance(x, dict):
            return sum(walk(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return sum(walk(v) for v in x)
        if isinstance(x, torch.Tensor):
            st = x.untyped_storage()
            key = (str(x.device), st.data_ptr())
            if key in seen:
                return 0
            seen.add(key)
            counts["tensors"] += 1
            return st.nbytes()
        return x.nbytes if isinstance(x, LazyFrames) else 0

    images = walk(inference_state.get("images"))
    outputs = walk(inference_state.get("output_dict_per_obj", {}))
    rest = sum(walk(v) for k, v in inference_state.items() if k not in ("images", "output_dict_per_obj"))
    return {"total": images + outputs + rest, "images": images, "outputs": outputs, **counts}


__all__ = [
    "MEMORY_MODES",
    "SpillRef",
    "SpillStore",
    "SpilledOutput",
    "StateTrimmer",
    "spill_output",
    "state_nbytes",
    "tracking_window",
]
