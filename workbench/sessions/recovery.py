"""Recovery of an autosaved session after a crash: :func:`recover_session`, behind
``ImageSession.recover`` / ``VideoSession.recover``. The folder layout, the log events and the
choices made (replay through ``apply``, propagations re-run up to their complete frames, saved
masks authoritative) are described in :mod:`.autosave`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..errors import DataError, DatasetNotFoundError, WorkbenchError
from ..io.images import read_image, read_palette_mask
from .actions import action_from_json
from .autosave import LOG, MASKS, Autosaver, mask_key, parse_mask_key, read_header, session_masks
from .journal import ActionLog, atomic_write_bytes, fsync_dir, remove_temp_files, scan_log
from .state import SessionObject, drop_mask, mask_array, put_mask


# -- report ---------------------------------------------------------------------------------------------
@dataclass
class RecoveryReport:
    """What :func:`recover_session` did (``session.recovery``).

    Attributes
    ----------
    folder : Path
    lines : int
        Valid log lines read.
    entries : list of dict
        The log records replayed, in order (``event`` ``"action"`` or ``"active"``); a
        propagation cut off by the crash appears as its ``Propagate`` with ``frames_done``
        and ``"partial": True``.
    torn_bytes, corrupt_bytes : int
        Bytes of a torn last line dropped / of a corrupt tail set aside (``stop_at_corrupt``).
    temp_files_removed, orphan_files_removed : list of str
        Leftovers of writes cut off by the crash (deleted).
    partial_frames : int or None
        Frames kept of a propagation the crash cut off (None: none was running).
    masks_checked, masks_mismatched : int
        Saved mask PNGs compared with the replay; replayed masks that differed (replaced by the
        saved ones).
    files_missing : list of str
        Mask files named by the log that are missing or unreadable (the replayed mask is kept).
    seconds : float
    """

    folder: Path
    lines: int = 0
    entries: list[dict] = field(default_factory=list)
    torn_bytes: int = 0
    corrupt_bytes: int = 0
    temp_files_removed: list[str] = field(default_factory=list)
    orphan_files_removed: list[str] = field(default_factory=list)
    partial_frames: int | None = None
    masks_checked: int = 0
    masks_mismatched: int = 0
    files_missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Plan:
    entries: list[dict] = field(default_factory=list)
    index: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)
    open: list | None = None  # [begin seq, Propagate json, index at begin, frames done]


def _fold(records: list[dict], path: Path) -> _Plan:
    """Walk the log: the records to replay, the saved mask of every key, the files named."""
    plan = _Plan()

    def bad(rec, why) -> NoReturn:
        raise DataError(
            f"{path}: line seq {rec.get('seq')} ({rec.get('event')!r}) {why}. The log does not follow "
            "the autosave format (edited by hand?); recover an earlier copy of the folder."
        )

    for rec in records:
        ev, op = rec.get("event"), plan.open
        if ev == "begin":
            if op is not None:
                bad(rec, f"starts a propagation while the one of line {op[0]} is still running")
            plan.open = [rec["seq"], rec.get("action"), dict(plan.index), 0]
            continue
        if ev == "abort":
            if op is None or rec.get("begin") != op[0]:
                bad(rec, "aborts no running propagation")
            plan.index, plan.open = op[2], None
            continue
        if ev == "active":
            if op is not None:
                bad(rec, "falls inside a propagation")
            plan.entries.append(rec)
            continue
        if ev == "frame":
            if op is None or rec.get("begin") != op[0]:
                bad(rec, "is a frame of no running propagation")
            op[3] += 1
            if rec.get("done") != op[3]:
                bad(rec, f"says {rec.get('done')} frames done where {op[3]} lines were logged")
        elif ev == "action":
            if op is not None:
                done = (rec.get("action") or {}).get("frames_done")
                if rec.get("begin") != op[0] or (done is not None and done != op[3]):
                    bad(rec, f"does not close the propagation of line {op[0]} ({op[3]} frames logged)")
                plan.open = None
            elif rec.get("begin") is not None:
                bad(rec, "closes no running propagation")
            plan.entries.append(rec)
        elif ev != "sync":
            bad(rec, "has an unknown event (valid: action, begin, frame, abort, active, sync)")
        masks, scores = rec.get("masks") or {}, rec.get("scores") or {}
        if not (isinstance(masks, dict) and isinstance(scores, dict) and isinstance(rec.get("removed", []), list)):
            bad(rec, "has malformed masks / scores / removed fields")
        for k in rec.get("removed") or []:
            plan.index.pop(k, None)
        for k, name in masks.items():
            plan.index[k] = (str(name), scores.get(k))
            plan.referenced.add(str(name))
    if plan.open is not None:
        if plan.open[3]:
            plan.entries.append(
                {
                    "seq": plan.open[0],
                    "event": "action",
                    "partial": True,
                    "action": {**plan.open[1], "frames_done": plan.open[3]},
                }
            )
        else:
            plan.index = plan.open[2]
    return plan


def _remove_orphans(masks_dir: Path, referenced: set[str]) -> list[Path]:
    gone = [p for p in masks_dir.glob("*.png") if p.name not in referenced] if masks_dir.is_dir() else []
    for p in gone:
        p.unlink(missing_ok=True)
    if gone:
        fsync_dir(masks_dir)
    return gone


def _build(cls, folder: Path, header: dict, backend, video, kw: dict):
    if header.get("base"):
        base = folder / header["base"]
        return cls.load(base, backend, **kw) if cls.kind == "image" else cls.load(base, backend, video, **kw)
    opts = {**header.get("options", {}), **kw}
    if cls.kind == "image":
        im = header["image"]
        gt, ignore = (read_palette_mask(folder / im[k]) > 0 if im.get(k) else None for k in ("gt", "gt_ignore"))
        session = cls(backend, read_image(folder / "image.png"), gt, gt_ignore=ignore, first_object=None, **opts)
        session.image_path = im.get("path")
    else:
        v = header["video"]
        src = video if video is not None else (folder / "frames" if v["path"] == "frames" else Path(v["path"]))
        if video is None and not Path(src).exists():
            raise DatasetNotFoundError(
                f"The video of the autosaved session, {src}, is gone; pass the video to "
                "VideoSession.recover(folder, backend, video=...)."
            )
        session = cls(backend, src, first_object=None, **opts)
        if session.num_frames != v["num_frames"] or [session.height, session.width] != v["shape"]:
            raise DataError(
                f"The video has {session.num_frames} frames of {session.height}x{session.width}, the "
                f"autosaved session {v['num_frames']} of {v['shape']}: pass the right video."
            )
    init = header.get("initial") or {"objects": [], "active_obj_id": None, "next_obj_id": 1}
    with session._lock:
        st = session._state
        st.objects = {o.obj_id: o for o in (SessionObject.from_json(d) for d in init["objects"])}
        st.active_obj_id, st.next_obj_id = init["active_obj_id"], int(init["next_obj_id"])
    session._initial = init
    return session


def _replay(session, entries: list[dict], path: Path) -> None:
    for rec in entries:
        try:
            if rec["event"] == "active":
                session.set_active(int(rec["obj_id"]))
            else:
                session.apply(action_from_json(rec["action"]))
        except WorkbenchError as exc:
            raise DataError(
                f"Replaying line seq {rec.get('seq')} of {path} failed: {exc} Recover with the backend "
                "(and model) the session was recorded with; the header lists it."
            ) from exc


def _verify(session, masks_dir: Path, index: dict, report: RecoveryReport) -> set[str]:
    """Compare the replayed masks with the saved PNGs; the saved ones win. Returns the keys
    whose file is missing or unreadable."""
    items, bad = session_masks(session), set()
    shape = (session.height, session.width)
    for k, (name, score) in index.items():
        f, o = parse_mask_key(k)
        try:
            saved = read_palette_mask(masks_dir / name) > 0
            if saved.shape != shape:
                raise DataError(f"shape {saved.shape} is not {shape}")
        except WorkbenchError:
            report.files_missing.append(name)
            bad.add(k)
            continue
        report.masks_checked += 1
        cur = items.get((f, o))
        if cur is None or not np.array_equal(mask_array(cur), saved):
            report.masks_mismatched += 1
            with session._lock:
                put_mask(session._state, f, o, saved, score)
    for f, o in items:
        if mask_key(f, o) not in index:
            report.masks_mismatched += 1
            with session._lock:
                drop_mask(session._state, f, o)
    return bad


def recover_session(
    cls,
    folder: str | Path,
    backend,
    video=None,
    *,
    autosave: bool = True,
    verify: bool = True,
    stop_at_corrupt: bool = False,
    **kw,
):
    """Rebuild a session of class ``cls`` from its autosave ``folder`` (the steps are listed in
    :mod:`.autosave`): clean up, read the log, replay it on a fresh session built from the
    header with ``backend`` (``video``: video sessions only), compare with the saved masks.

    Parameters
    ----------
    cls : type
        ``ImageSession`` or ``VideoSession``.
    folder : str or Path
    backend : ImageBackend or VideoBackend
    video : optional
        The video of a video session when it moved.
    autosave : bool
        Go on autosaving to ``folder`` (a propagation cut off by the crash is closed in the log).
    verify : bool
        Compare the replayed masks with the saved PNGs; the saved ones win.
    stop_at_corrupt : bool
        Keep the lines before a corrupt line (the rest goes to ``autosave.jsonl.corrupt-<time>``)
        instead of raising.
    **kw
        Constructor options that override the recorded ones.

    Returns
    -------
    ImageSession or VideoSession
        With ``session.recovery``, a :class:`RecoveryReport`.

    Raises
    ------
    DatasetNotFoundError
        No autosave in ``folder`` (or the video is gone).
    DataError
        Corrupt log, the folder in use by a live session, the other kind of session, or a
        replay the backend refuses.
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    header = read_header(folder, cls.kind)
    log = ActionLog.open(folder / LOG)
    session = None
    try:
        report = RecoveryReport(folder)
        report.temp_files_removed = [str(p.relative_to(folder)) for p in remove_temp_files(folder)]
        scan = scan_log(log.path, stop_at_corrupt)
        if scan.corrupt_bytes:
            tail = log.path.read_bytes()[scan.good_bytes :]
            atomic_write_bytes(folder / f"{LOG}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}", tail)
        if scan.torn_bytes or scan.corrupt_bytes:
            log.truncate(scan.good_bytes)
        log.next_seq = len(scan.records)
        report.lines, report.torn_bytes, report.corrupt_bytes = len(scan.records), scan.torn_bytes, scan.corrupt_bytes
        plan = _fold(scan.records, log.path)
        report.orphan_files_removed = [p.name for p in _remove_orphans(folder / MASKS, plan.referenced)]
        session = _build(cls, folder, header, backend, video, kw)
        _replay(session, plan.entries, log.path)
        report.entries = plan.entries
        report.partial_frames = plan.open[3] if plan.open is not None and plan.open[3] else None
        bad = _verify(session, folder / MASKS, plan.index, report) if verify else set()
        if autosave:
            items = session_masks(session)
            index = {
                k: (None if k in bad else items.get(parse_mask_key(k)), name, score)
                for k, (name, score) in plan.index.items()
            }
            saver = Autosaver(session, folder, log, index)
            (folder / MASKS).mkdir(exist_ok=True)
            if plan.open is not None and plan.open[3]:  # close the cut-off propagation as it is now
                saver._begin = (plan.open[0], {})
                saver.commit(session.log[-1])
            elif plan.open is not None:
                log.append({"event": "abort", "begin": plan.open[0]})
            session._autosave = saver
        else:
            log.close()
        report.seconds = time.perf_counter() - t0
        session.recovery = report
        return session
    except BaseException:
        log.close()
        if session is not None:
            session.close()
        raise


__all__ = ["RecoveryReport", "recover_session"]
