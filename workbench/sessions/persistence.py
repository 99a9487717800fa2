"""Saving sessions to a folder and loading them back (layout and atomicity: :mod:`.store`).

Image sessions: ``image.png``, ``masks/<obj_id>.png`` (palette PNGs), ``results.npz``
(candidates, IoU predictions, low-res logits per object), optional ``gt.png``.
Video sessions: ``masks/<obj_id>/<frame_idx>.png``, ``prompts/<obj_id>_<frame_idx>.png`` for
mask prompts; the video is referenced by path (in-memory frames go to ``frames/`` once).
Both: objects, prompts and the action timeline in ``session.json``.

The functions take the session (or its class, for loading) as an argument and import only
:mod:`.state`, :mod:`.actions` and :mod:`.store`, never the session modules.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io.images import read_image
from .actions import action_from_json
from .capabilities import backend_info_json
from .state import ImageResult, ImageState, PackedMask, Prompt, SessionObject, VideoState, frozen
from .store import SaveTarget, atomic_write_npz, read_manifest, read_mask, write_mask, write_rgb_png


def _objects_json(st) -> dict:
    return {
        "objects": [o.to_json() for o in st.objects.values()],
        "active_obj_id": st.active_obj_id,
        "next_obj_id": st.next_obj_id,
    }


def _load_objects(st, manifest: dict) -> None:
    st.next_obj_id = int(manifest["next_obj_id"])
    st.active_obj_id = manifest.get("active_obj_id")
    for o in manifest["objects"]:
        obj = SessionObject.from_json(o)
        st.objects[obj.obj_id] = obj


def _state_and_timeline(session):
    with session._action_lock, session._lock:
        return session._state.copy(), [a.to_json() for a in session._timeline]


def _set_loaded(session, st, manifest: dict) -> None:
    with session._lock:
        session._state = st
        session._timeline = [action_from_json(a) for a in manifest.get("timeline", [])]
        session.log = list(session._timeline)
        session._initial = None  # the log does not go back to the construction


# -- image --------------------------------------------------------------------------------------------
def save_image_session(session, folder: str | Path) -> Path:
    """See :meth:`ImageSession.save`."""
    st, timeline = _state_and_timeline(session)
    target = SaveTarget(folder)
    try:
        write_rgb_png(target.data / "image.png", session.image)
        arrays, files, results = {}, {}, {}
        for oid, m in st.masks.items():
            files[str(oid)] = f"masks/{oid}.png"
            write_mask(target.data / files[str(oid)], m, oid)
        for oid, r in st.results.items():
            arrays[f"candidates_{oid}"] = r.candidates
            arrays[f"iou_{oid}"] = r.iou_predictions
            arrays[f"logits_{oid}"] = r.low_res_logits
            results[str(oid)] = {
                "selected": r.selected,
                "multimask_output": r.multimask_output,
                "used_mask_input": r.used_mask_input,
                "latency_ms": r.latency_ms,
            }
        atomic_write_npz(target.data / "results.npz", **arrays)
        if session.gt_mask is not None:
            write_mask(target.data / "gt.png", session.gt_mask, 1)
        if session.gt_ignore is not None:
            write_mask(target.data / "gt_ignore.png", session.gt_ignore, 1)
        manifest = {
            "kind": "image",
            "image_path": session.image_path,
            "image_shape": [session.height, session.width],
            "backend": backend_info_json(session.backend),
            "options": {
                "multimask_output": session.multimask_output,
                "use_mask_input": session.use_mask_input,
                "max_history": session.max_history,
            },
            **_objects_json(st),
            "prompts": {str(k): p.to_json() for k, p in st.prompts.items()},
            "masks": files,
            "results": results,
            "timeline": timeline,
        }
        return target.commit(manifest)
    except BaseException:
        target.abort()
        raise


def load_image_session(cls, folder: str | Path, backend, **kw):
    """See :meth:`ImageSession.load`."""
    autosave = kw.pop("autosave", None)
    manifest, data = read_manifest(folder, "image")
    opts = {
        k: v
        for k, v in manifest.get("options", {}).items()
        if k in ("multimask_output", "use_mask_input", "max_history")
    }
    gt = read_mask(data / "gt.png") if (data / "gt.png").is_file() else None
    ignore = read_mask(data / "gt_ignore.png") if (data / "gt_ignore.png").is_file() else None
    session = cls(backend, read_image(data / "image.png"), gt, gt_ignore=ignore, first_object=None, **{**opts, **kw})
    session.image_path = manifest.get("image_path")
    st = ImageState()
    _load_objects(st, manifest)
    for k, p in manifest["prompts"].items():
        st.prompts[int(k)] = Prompt.from_json(p)
    with np.load(data / "results.npz") as arrays:
        for k, r in manifest["results"].items():
            st.results[int(k)] = ImageResult(
                frozen(arrays[f"candidates_{k}"]),
                frozen(arrays[f"iou_{k}"]),
                frozen(arrays[f"logits_{k}"]),
                int(r["selected"]),
                bool(r["multimask_output"]),
                bool(r["used_mask_input"]),
                float(r["latency_ms"]),
            )
    for k, f in manifest["masks"].items():
        st.masks[int(k)] = frozen(read_mask(data / f))
    _set_loaded(session, st, manifest)
    if autosave is not None:
        session.enable_autosave(autosave)
    return session


# -- video --------------------------------------------------------------------------------------------
def save_video_session(session, folder: str | Path) -> Path:
    """See :meth:`VideoSession.save`."""
    st, timeline = _state_and_timeline(session)
    folder = Path(folder)
    path = getattr(session.frames, "path", None)
    video = None if path is None else str(Path(path).resolve())
    if video is None:
        video = "frames"
        frames_dir = folder / "frames"
        if len(list(frames_dir.glob("*.png"))) != session.num_frames:
            for i in range(session.num_frames):
                write_rgb_png(frames_dir / f"{i:05d}.png", session.frames[i])
    target = SaveTarget(folder)
    try:
        prompts = []
        for (f, oid), p in sorted(st.prompts.items()):
            rec = {"frame_idx": f, "obj_id": oid, **p.to_json()}
            if p.mask is not None:
                rec["mask_file"] = f"prompts/{oid}_{f:05d}.png"
                write_mask(target.data / rec["mask_file"], p.mask, oid)
            prompts.append(rec)
        masks = []
        for f in sorted(st.masks):
            for oid, pm in st.masks[f].items():
                name = f"masks/{oid}/{f:05d}.png"
                write_mask(target.data / name, pm.unpack(), oid)
                masks.append({"frame_idx": f, "obj_id": oid, "file": name, "score": pm.score})
        manifest = {
            "kind": "video",
            "video": video,
            "num_frames": session.num_frames,
            "frame_shape": [session.height, session.width],
            "backend": backend_info_json(session.backend),
            "options": {"max_history": session.max_history},
            **_objects_json(st),
            "prompts": prompts,
            "masks": masks,
            "timeline": timeline,
        }
        return target.commit(manifest)
    except BaseException:
        target.abort()
        raise


def load_video_session(cls, folder: str | Path, backend, video=None, **kw):
    """See :meth:`VideoSession.load`."""
    folder = Path(folder)
    autosave = kw.pop("autosave", None)
    manifest, data = read_manifest(folder, "video")
    if video is None:
        video = folder / "frames" if manifest["video"] == "frames" else manifest["video"]
    opts = {k: v for k, v in manifest.get("options", {}).items() if k == "max_history"}
    session = cls(backend, video, first_object=None, **{**opts, **kw})
    if session.num_frames != manifest["num_frames"] or [session.height, session.width] != manifest["frame_shape"]:
        raise DataError(
            f"The video has {session.num_frames} frames of {session.height}x{session.width}, the "
            f"saved session {manifest['num_frames']} of {manifest['frame_shape']}: pass the right video."
        )
    st = VideoState()
    _load_objects(st, manifest)
    for rec in manifest["prompts"]:
        mask = read_mask(data / rec["mask_file"]) if rec.get("mask_file") else None
        st.prompts[(int(rec["frame_idx"]), int(rec["obj_id"]))] = Prompt.from_json(rec, mask)
    for (f, oid), p in sorted(st.prompts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        session._apply_prompt(f, oid, p)
    for rec in manifest["masks"]:
        pm = PackedMask.pack(read_mask(data / rec["file"]), rec.get("score"))
        st.masks.setdefault(int(rec["frame_idx"]), {})[int(rec["obj_id"])] = pm
    _set_loaded(session, st, manifest)
    if autosave is not None:
        session.enable_autosave(autosave)
    return session


__all__ = ["load_image_session", "load_video_session", "save_image_session", "save_video_session"]
