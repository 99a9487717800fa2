"""Autosave: every action of an image or video session is on disk before the session method
returns, and a session whose kernel died is rebuilt from its folder.

Use ``ImageSession(backend, image, autosave=folder)`` / ``VideoSession(backend, video,
autosave=folder)`` or ``session.enable_autosave(folder)``; after a crash,
``ImageSession.recover(folder, backend)`` / ``VideoSession.recover(folder, backend)``.

Folder layout
-------------
``autosave.json``
    Header, written once (atomically) when autosave starts: kind, options, backend, the
    objects the session started with, where the image / video is.
``autosave.jsonl``
    Append-only action log, one checksummed line per event (format: :mod:`.journal`).
``autosave-masks/<seq>_<frame_idx>_<obj_id>.png``
    Masks (DAVIS palette PNG, pixels = ``obj_id``, 1 above 255) written by log line ``seq``.
``image.png``, ``gt.png``, ``gt_ignore.png`` / ``frames/``
    The image (and ground truth) of an image session; the frames of an in-memory video.
``base/``
    Only when autosave starts on a *loaded* session (its log does not go back to its
    construction): a :meth:`save` of its state, which recovery loads before replaying.

Log events (``event`` field; every line also has ``seq`` and ``crc``)
    ``action``  an action record (``action``: :meth:`Action.to_json`), written after it ran;
                ``masks`` ``{"<frame_idx>/<obj_id>": file}`` of the masks it changed,
                ``removed`` (keys of masks it removed), ``scores`` (video object scores).
    ``begin``   a propagation is about to run (``action``: its :class:`Propagate` record).
    ``frame``   one propagated frame is complete: ``begin`` (seq of its begin line), ``done``
                (frames so far, as ``Propagate.frames_done`` counts them), ``frame_idx``, masks.
                The masks are on disk before the line, the line before the next frame.
    ``abort``   the propagation of ``begin`` raised and was rolled back.
    ``active``  ``set_active(obj_id)`` (UI state, replayed so the undo history is exact).
    ``sync``    masks written outside an action (autosave started on a session with masks).

Durability: mask files are written (temp + fsync + rename, folder fsync'd) before the line that
names them, and the line is fsync'd before the method returns (undo/redo included). A write that
fails rolls the action back and raises, so nothing is acknowledged that is not on disk.

Recovery (:func:`~workbench.sessions.recovery.recover_session`)
----------------------------------
1. Temporary files anywhere under the folder are deleted; a torn last log line is ignored and
   truncated away; mask files no line names (written for an action that never got its line)
   are deleted. A bad line *before* good lines is corruption, not a crash: ``DataError``
   unless ``stop_at_corrupt=True`` (then the lines before it are used, the rest kept aside).
2. A fresh session is built from the header and every logged action is replayed through
   :meth:`apply` (undo/redo included), so prompts, objects, candidates, the undo/redo history
   and the backend's model state are rebuilt exactly as they were.
3. Propagations are **re-run** during the replay, limited to the frames that were complete on
   disk (``frames_done``): SAM 2's memory of the tracked frames (and the classical backend's
   per-frame outputs) drive later refinement clicks and propagations, and only running the
   propagation rebuilds it. A propagation cut off by the crash is replayed as one cancelled
   after its last complete frame: ``Propagate(..., frames_done=k)``, as a cancel would have
   left it, so a kill loses at most the frame in flight.
4. The saved mask PNGs are authoritative: every replayed mask is compared with them, and a
   mask that differs (a non-deterministic backend, or another backend than the recorded one)
   is replaced by the saved one; ``RecoveryReport.masks_mismatched`` counts them (0 for a
   deterministic backend). The undo history keeps the replayed masks.
"""

from __future__ import annotations

import json
import time
import warnings
import weakref
from pathlib import Path

from ..errors import DataError, DatasetNotFoundError
from .actions import Propagate
from .journal import ActionLog, atomic_write_bytes, encode_mask_png, encode_rgb_png, fsync_dir, write_files
from .state import mask_array, mask_items, mask_score

FORMAT = "workbench-autosave"
VERSION = 1
HEADER = "autosave.json"
LOG = "autosave.jsonl"
MASKS = "autosave-masks"


# -- masks of a session, keyed (frame_idx, obj_id) ---------------------------------------------------
def session_masks(session, frame_idx: int | None = None) -> dict[tuple[int, int], object]:
    """:func:`~.state.mask_items` of the session's state (under its lock)."""
    with session._lock:
        return mask_items(session._state, frame_idx)


def mask_key(f: int, o: int) -> str:
    """The log's key of the mask of object ``o`` on frame ``f``: ``"<f>/<o>"``."""
    return f"{f}/{o}"


def parse_mask_key(k: str) -> tuple[int, int]:
    """Inverse of :func:`mask_key`."""
    f, o = k.split("/")
    return int(f), int(o)


class Autosaver:
    """Writes one session's actions and masks to its autosave folder (created by
    :func:`enable_autosave` / :func:`.recovery.recover_session`; the session calls its hooks while it
    holds its action lock).

    Attributes
    ----------
    folder : Path
    log : ActionLog
    files_written : int
        Mask files written by this autosaver.
    """

    def __init__(self, session, folder: Path, log: ActionLog, index: dict | None = None):
        self.session, self.folder, self.log = session, Path(folder), log
        self.masks_dir = self.folder / MASKS
        self._index: dict[str, tuple[object, str, float | None]] = dict(index or {})
        self._begin: tuple[int, dict] | None = None
        self._pending_active: list[int] = []
        self._files: dict[int, tuple[weakref.ref, str]] = {}  # id(mask value) -> (ref, file): reused by undo/redo
        self.files_written = 0

    @property
    def last_seq(self) -> int | None:
        """``seq`` of the last line on disk (None for an empty log): what the last
        acknowledged action was written as."""
        return self.log.next_seq - 1 if self.log.next_seq else None

    # -- writing -------------------------------------------------------------------------------------
    def _line(self, event: str, items: dict, removed=(), **fields) -> int:
        seq = self.log.next_seq
        files, masks, scores, updates = {}, {}, {}, {}
        for (f, o), v in items.items():
            k = mask_key(f, o)
            cur = self._index.get(k)
            if cur is not None and cur[0] is v:
                continue
            known = self._files.get(id(v))
            if known is not None and known[0]() is v and known[1].split("_")[1:] == [f"{f:05d}", f"{o}.png"]:
                name = known[1]  # an undo/redo put back a mask that is on disk already
            else:
                name = f"{seq:07d}_{f:05d}_{o}.png"
                files[name] = encode_mask_png(mask_array(v), o)
            masks[k], updates[k] = name, (v, name, mask_score(v))
            if mask_score(v) is not None:
                scores[k] = mask_score(v)
        paths = write_files(self.masks_dir, files)
        rec = {"event": event, **fields, "masks": masks, "removed": sorted(removed)}
        if scores:
            rec["scores"] = scores
        try:
            self.log.append(rec)
        except BaseException:
            for p in paths:
                p.unlink(missing_ok=True)
            raise
        for k in removed:
            self._index.pop(k, None)
        self._index.update(updates)
        self.files_written += len(paths)
        for v, name, _ in updates.values():
            self._files[id(v)] = (weakref.ref(v), name)
        if len(self._files) > 4 * len(self._index) + 1000:
            self._files = {i: rn for i, rn in self._files.items() if rn[0]() is not None}
        return seq

    def begin(self, action) -> None:
        """Before an action runs: a propagation gets a ``begin`` line (its frames follow)."""
        if isinstance(action, Propagate):
            self._begin = (self.log.append({"event": "begin", "action": action.to_json()}), dict(self._index))

    def frame(self, frame_idx: int, done: int) -> None:
        """After frame ``frame_idx`` of the running propagation was stored in the session."""
        if self._begin is not None:
            self._line(
                "frame",
                session_masks(self.session, int(frame_idx)),
                begin=self._begin[0],
                done=int(done),
                frame_idx=int(frame_idx),
            )

    def commit(self, record) -> int:
        """After an action (or undo/redo) changed the session: write its changed masks and its
        line. Returns the line's ``seq``."""
        items = session_masks(self.session)
        keys = {mask_key(f, o) for f, o in items}
        removed = [k for k in self._index if k not in keys]
        fields = {"action": record.to_json()}
        if self._begin is not None:
            fields["begin"] = self._begin[0]
        seq = self._line("action", items, removed, **fields)
        self._begin = None
        while self._pending_active:
            self.log.append({"event": "active", "obj_id": self._pending_active.pop(0)})
        return seq

    def abort(self) -> None:
        """The running action failed and was rolled back."""
        self._pending_active.clear()
        if self._begin is None:
            return
        seq, self._index = self._begin[0], self._begin[1]
        self._begin = None
        try:
            self.log.append({"event": "abort", "begin": seq})
        except Exception as exc:  # the action's own error is being raised
            warnings.warn(
                f"Autosave to {self.folder} stopped: the rollback of a propagation could not be logged "
                f"({exc}). Enable autosave again in a new folder.",
                RuntimeWarning,
                stacklevel=3,
            )
            self.session._autosave = None
            self.close()

    def note_active(self, obj_id: int, now: bool) -> None:
        """``set_active``: logged now, or after the running action (``now=False``)."""
        if now:
            self.log.append({"event": "active", "obj_id": int(obj_id)})
        else:
            self._pending_active.append(int(obj_id))

    def sync(self) -> None:
        """Write every mask not on disk yet (a ``sync`` line)."""
        items = session_masks(self.session)
        keys = {mask_key(f, o) for f, o in items}
        self._line("sync", items, [k for k in self._index if k not in keys])

    def close(self) -> None:
        self.log.close()


# -- starting autosave -----------------------------------------------------------------------------------
def _write_header(session, folder: Path, base: bool) -> dict:
    from .capabilities import backend_info_json

    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": session.kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "backend": backend_info_json(session.backend),
        "initial": None if base else session._initial,
        "base": "base" if base else None,
    }
    if base:
        session.save(folder / "base")
    if session.kind == "image":
        files = {} if base else {"image.png": encode_rgb_png(session.image)}
        for name, m in (("gt.png", session.gt_mask), ("gt_ignore.png", session.gt_ignore)):
            if m is not None and not base:
                files[name] = encode_mask_png(m, 1)
        write_files(folder, files)
        header["image"] = {
            "path": session.image_path,
            "shape": [session.height, session.width],
            "gt": "gt.png" if "gt.png" in files else None,
            "gt_ignore": "gt_ignore.png" if "gt_ignore.png" in files else None,
        }
        header["options"] = {
            "multimask_output": session.multimask_output,
            "use_mask_input": session.use_mask_input,
            "max_history": session.max_history,
        }
    else:
        path = getattr(session.frames, "path", None)
        if path is None and not base:
            write_files(
                folder / "frames",
                {f"{i:05d}.png": encode_rgb_png(session.frames[i]) for i in range(session.num_frames)},
            )
        header["video"] = {
            "path": "frames" if path is None else str(Path(path).resolve()),
            "num_frames": session.num_frames,
            "shape": [session.height, session.width],
        }
        header["options"] = {"max_history": session.max_history}
    atomic_write_bytes(folder / HEADER, json.dumps(header, indent=1).encode("utf-8"))
    return header


def enable_autosave(session, folder: str | Path) -> Autosaver:
    """Start autosaving ``session`` to ``folder`` (see :meth:`SessionBase.enable_autosave`):
    lock the log, write the header (and image / frames, or a ``base/`` save of a loaded
    session), write the history so far, attach an :class:`Autosaver`.

    Raises
    ------
    DataError
        ``folder`` already holds an autosave log, is in use, or autosave is already on.
    """
    folder = Path(folder)
    cls = type(session).__name__
    with session._action_lock:
        if session._autosave is not None:
            raise DataError(
                f"Autosave is already on (to {session._autosave.folder}); call session.disable_autosave() first."
            )
        if (folder / HEADER).exists() or ((folder / LOG).exists() and (folder / LOG).stat().st_size):
            raise DataError(
                f"{folder} already holds an autosave log. Recover that session with "
                f"{cls}.recover({str(folder)!r}, backend), or autosave to a new folder."
            )
        folder.mkdir(parents=True, exist_ok=True)
        log = ActionLog.open(folder / LOG)
        try:
            base = session._initial is None
            _write_header(session, folder, base)
            (folder / MASKS).mkdir(exist_ok=True)
            fsync_dir(folder)
            saver = Autosaver(session, folder, log)
            if not base:
                for rec in session.log:  # the history so far: replayed on recovery
                    log.append({"event": "action", "action": rec.to_json(), "masks": {}, "removed": []})
            if session.log:
                if session.active_obj_id is not None:
                    saver.note_active(session.active_obj_id, True)
                saver.sync()
        except BaseException:  # leave the folder as if autosave never started
            (folder / HEADER).unlink(missing_ok=True)
            log.truncate(0)
            log.close()
            raise
        session._autosave = saver
    return saver


# -- header ------------------------------------------------------------------------------------------
def read_header(folder: str | Path, kind: str | None = None) -> dict:
    """Read ``folder/autosave.json``.

    Raises
    ------
    DatasetNotFoundError
        No autosave in ``folder``.
    DataError
        Unreadable, another format or version, or a session ``kind`` other than expected.
    """
    path = Path(folder) / HEADER
    if not path.is_file():
        raise DatasetNotFoundError(
            f"No autosave in {folder}: {HEADER} is missing (a session killed before its "
            "autosave started leaves nothing to recover). Start one with "
            "ImageSession(..., autosave=folder) or session.enable_autosave(folder)."
        )
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not valid JSON: {exc}.") from exc
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise DataError(
            f"{path} is not a {FORMAT} version {VERSION} header (format={header.get('format')!r}, "
            f"version={header.get('version')!r})."
        )
    if kind is not None and header.get("kind") != kind:
        other = "VideoSession" if header.get("kind") == "video" else "ImageSession"
        raise DataError(
            f"{folder} holds the autosave of a {header.get('kind')!r} session, not {kind!r}: recover it "
            f"with {other}.recover."
        )
    return header


__all__ = ["FORMAT", "HEADER", "LOG", "MASKS", "VERSION", "Autosaver", "enable_autosave", "read_header"]
