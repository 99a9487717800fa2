"""Autosave of image and video sessions: the checksummed JSONL log (torn and corrupt lines),
atomic PNG writes, exact recovery (masks, prompts, objects, undo/redo history), a propagation
cut off mid-way, failed writes rolling actions back. Real data, classical backend."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import FlowVideoBackend, GrabCutImageBackend
from workbench.errors import DataError, DatasetNotFoundError
from workbench.io.images import read_image, read_palette_mask
from workbench.sessions import ImageSession, Propagate, SetMask, Undo, VideoSession, journal
from workbench.sessions.autosave import HEADER, LOG, MASKS, read_header
from workbench.sessions.journal import decode_line, encode_line, scan_log, write_files

ITEM = "106024"
SEQ = "blackswan"


def image_backend() -> GrabCutImageBackend:
    return GrabCutImageBackend(max_side=96)  # small work resolution: fast, deterministic (seeded)


def video_backend() -> FlowVideoBackend:
    return FlowVideoBackend(flow_scale=0.25, flow_preset="ultrafast", max_side=96, image_kw={"max_side": 96})


@pytest.fixture(scope="module")
def grabcut(data_dir: Path):
    root = data_dir / "images" / "grabcut"
    gt = read_palette_mask(root / "masks" / f"{ITEM}.png")
    return read_image(root / "images" / f"{ITEM}.jpg"), gt == 255, gt == 128


@pytest.fixture(scope="module")
def frames_dir(davis_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames") / SEQ
    out.mkdir()
    for i in range(6):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{i:05d}.jpg", out / f"{i:05d}.jpg")
    return out


@pytest.fixture(scope="module")
def gt0(davis_dir: Path) -> np.ndarray:
    return read_palette_mask(davis_dir / "Annotations" / SEQ / "00000.png") == 1


def inside(mask: np.ndarray, k: int = 0) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    order = np.argsort((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    return float(xs[order[k]]), float(ys[order[k]])


def digest(a) -> str:
    a = np.ascontiguousarray(a)
    return f"{a.shape}{a.dtype}{hashlib.sha1(a.tobytes()).hexdigest()}"


def state_of(s) -> dict:
    """Everything recovery must restore, as comparable values."""
    out = {
        "objects": {o: (x.name, x.color) for o, x in s.objects.items()},
        "active": s.active_obj_id,
        "log": [json.dumps(a.to_json(), sort_keys=True) for a in s.log],
        "timeline": [json.dumps(a.to_json(), sort_keys=True) for a in s.timeline],
        "undo": s.undo_depth,
        "redo": s.can_redo,
    }
    if s.kind == "image":
        out["masks"] = {o: digest(m) for o, m in s.masks.items()}
        out["prompts"] = {o: json.dumps(s.prompt_of(o).to_json()) for o in s.obj_ids}
        out["results"] = {
            o: (r.selected, digest(r.candidates), digest(r.low_res_logits))
            for o in s.obj_ids
            if (r := s.result(o)) is not None
        }
    else:
        out["masks"] = {(f, o): digest(m) for f in range(s.num_frames) for o, m in s.masks_at(f).items()}
        out["prompts"] = {
            k: (json.dumps(p.to_json()), None if p.mask is None else digest(p.mask)) for k, p in s.prompts.items()
        }
    return out


def assert_same_history(a, b) -> None:
    """Walk both undo stacks to the bottom and back: every intermediate state equal."""
    a.disable_autosave()
    b.disable_autosave()
    depth = a.undo_depth
    assert b.undo_depth == depth
    for _ in range(depth):
        a.undo()
        b.undo()
        assert state_of(a)["masks"] == state_of(b)["masks"] and a.obj_ids == b.obj_ids
    for _ in range(depth):
        a.redo()
        b.redo()
    assert state_of(a)["masks"] == state_of(b)["masks"]


def log_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / LOG).read_text().splitlines()]


def image_session_with_history(grabcut, folder: Path) -> ImageSession:
    image, gt, ignore = grabcut
    s = ImageSession(image_backend(), image, gt, gt_ignore=ignore, autosave=folder)
    s.add_point(*inside(gt))
    s.select_candidate(2)
    s.add_point(3, 3, positive=False)
    s.undo()
    s.redo()
    o2 = s.add_object("background", color=(1, 2, 3))
    s.set_box(0, 0, 120, 90, obj_id=o2)
    s.set_active(1)
    s.add_point(*inside(gt, 40))
    s.undo()
    return s


# -- log format ---------------------------------------------------------------------------------------
def test_log_lines_checksummed():
    rec = {"seq": 3, "event": "action", "action": {"type": "RenameObject", "obj_id": 1, "name": "chat é"}}
    line = encode_line(rec)
    assert line.endswith(b"}\n") and line.isascii() and json.loads(line)["crc"]
    assert decode_line(line[:-1]) == rec
    flipped = line.replace(b"RenameObject", b"RenameObjekt")
    assert decode_line(flipped[:-1]) is None  # checksum catches a changed byte
    assert decode_line(line[:-10]) is None  # a torn line
    assert decode_line(b"\x00" * 40) is None


def test_torn_last_line_is_ignored_and_truncated(grabcut, tmp_path):
    folder = tmp_path / "s"
    s = image_session_with_history(grabcut, folder)
    expected = state_of(s)
    s.close()
    size = (folder / LOG).stat().st_size
    half = encode_line({"seq": 10, "event": "action", "action": {"type": "Undo"}, "masks": {}, "removed": []})
    for tail in (half[: len(half) // 2], b"\x00" * 37, half[:-3] + b"}\n"):
        with open(folder / LOG, "ab") as fh:
            fh.write(tail)
        r = ImageSession.recover(folder, image_backend())
        assert r.recovery.torn_bytes == len(tail) and (folder / LOG).stat().st_size == size
        assert state_of(r) == expected
        r.close()


def test_corrupt_middle_line_is_refused(grabcut, tmp_path):
    folder = tmp_path / "s"
    s = image_session_with_history(grabcut, folder)
    s.close()
    lines = (folder / LOG).read_bytes().split(b"\n")
    assert b'"point_labels":[0]' in lines[2]
    lines[2] = lines[2].replace(b'"point_labels":[0]', b'"point_labels":[1]')  # valid JSON, wrong checksum
    (folder / LOG).write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"line 3 .*checksum.*stop_at_corrupt=True"):
        ImageSession.recover(folder, image_backend())
    r = ImageSession.recover(folder, image_backend(), stop_at_corrupt=True)
    assert r.recovery.lines == 2 and [type(a).__name__ for a in r.log] == ["AddPoints", "SelectCandidate"]
    assert r.result(1).selected == 2 and r.recovery.corrupt_bytes > 0
    assert len(list(folder.glob(f"{LOG}.corrupt-*"))) == 1
    assert scan_log(folder / LOG).records[-1]["seq"] == 1
    r.close()


# -- files ------------------------------------------------------------------------------------------------
def test_atomic_writes_leave_complete_files_only(grabcut, tmp_path, monkeypatch):
    target = tmp_path / "w"
    write_files(target, {"a.png": journal.encode_mask_png(grabcut[1], 1)})
    assert [p.name for p in target.iterdir()] == ["a.png"]

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(journal.os, "replace", fail)
    with pytest.raises(OSError):
        write_files(target, {"a.png": b"new"})
    monkeypatch.undo()
    assert [p.name for p in target.iterdir()] == ["a.png"]  # old file intact, no temp file
    assert np.array_equal(read_palette_mask(target / "a.png") > 0, grabcut[1])

    folder = tmp_path / "s"
    s = image_session_with_history(grabcut, folder)
    expected = state_of(s)
    s.close()
    (folder / MASKS / ".0000099_00000_1.png.1a2b3c4d.tmp").write_bytes(b"\x89PNG half")  # cut-off write
    (folder / MASKS / "0000099_00000_1.png").write_bytes(b"written, never logged")  # orphan
    (folder / "export").mkdir()
    (folder / "export" / "00000.png.tmp").write_bytes(b"\x89PNG")
    r = ImageSession.recover(folder, image_backend())
    assert sorted(r.recovery.temp_files_removed) == [
        f"{MASKS}/.0000099_00000_1.png.1a2b3c4d.tmp",
        "export/00000.png.tmp",
    ]
    assert r.recovery.orphan_files_removed == ["0000099_00000_1.png"]
    assert state_of(r) == expected and r.recovery.masks_mismatched == 0
    names = {n for rec in log_lines(folder) for n in rec.get("masks", {}).values()}
    assert names == {p.name for p in (folder / MASKS).iterdir()}
    for p in (folder / MASKS).iterdir():
        assert read_palette_mask(p).shape == grabcut[1].shape
    r.close()


# -- image sessions ----------------------------------------------------------------------------------------
def test_image_recovery_is_exact(grabcut, tmp_path):
    folder = tmp_path / "s"
    s = image_session_with_history(grabcut, folder)
    s.rename_object(2, "sky")
    s.remove_object(2)
    s.clear()
    s.undo()
    assert s.autosaver.last_seq == len(log_lines(folder)) - 1
    s.close()
    header = read_header(folder, "image")
    assert header["initial"]["objects"][0]["name"] == "object 1" and (folder / "gt.png").is_file()
    r = ImageSession.recover(folder, image_backend())
    assert state_of(r) == state_of(s)
    assert r.recovery.masks_checked == len(s.masks) and r.recovery.masks_mismatched == 0
    assert r.true_iou is not None and np.allclose(r.true_iou, s.true_iou)
    r.add_point(*inside(grabcut[1], 80))  # the log goes on after a recovery
    r.close()
    again = ImageSession.recover(folder, image_backend())
    assert state_of(again) == state_of(r)
    assert_same_history(again, r)
    again.close()


def test_undo_redo_are_autosaved(grabcut, tmp_path):
    image, gt, _ = grabcut
    folder = tmp_path / "s"
    s = ImageSession(image_backend(), image, autosave=folder)
    s.add_point(*inside(gt))
    first = s.masks[1]
    s.add_point(*inside(gt, 60))
    s.undo()
    crash = tmp_path / "after-undo"
    shutil.copytree(folder, crash)  # the folder as a kill right after undo() returned leaves it
    last = log_lines(folder)[-1]
    assert last["action"] == Undo().to_json()
    assert np.array_equal(read_palette_mask(folder / MASKS / last["masks"]["0/1"]) > 0, first)
    s.redo()
    assert log_lines(folder)[-1]["action"]["type"] == "Redo"
    r = ImageSession.recover(crash, image_backend())
    assert np.array_equal(r.masks[1], first) and r.can_redo and r.undo_depth == 1
    r.redo()
    assert np.array_equal(r.masks[1], s.masks[1])
    r.close()
    s.close()


def test_failed_write_rolls_the_action_back(grabcut, tmp_path, monkeypatch):
    image, gt, _ = grabcut
    folder = tmp_path / "s"
    s = ImageSession(image_backend(), image, autosave=folder)
    s.add_point(*inside(gt))
    before, size = state_of(s), (folder / LOG).stat().st_size
    real = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        s.add_point(*inside(gt, 50), positive=False)
    with pytest.raises(OSError):
        s.undo()
    monkeypatch.setattr(journal.os, "fsync", real)
    assert state_of(s) == before and (folder / LOG).stat().st_size == size
    assert not [p for p in (folder / MASKS).iterdir() if p.name.startswith("0000001")]
    s.add_point(*inside(gt, 50), positive=False)
    s.close()
    assert state_of(ImageSession.recover(folder, image_backend(), autosave=False)) == state_of(s)


def test_folder_errors(grabcut, frames_dir, tmp_path):
    image = grabcut[0]
    with pytest.raises(DatasetNotFoundError, match="autosave.json is missing"):
        ImageSession.recover(tmp_path / "nothing", image_backend())
    s = ImageSession(image_backend(), image, autosave=tmp_path / "s")
    s.add_point(10, 10)
    with pytest.raises(DataError, match="in use by another open session"):
        ImageSession.recover(tmp_path / "s", image_backend())
    s.close()
    with pytest.raises(DataError, match=r"already holds an autosave log.*ImageSession.recover"):
        ImageSession(image_backend(), image, autosave=tmp_path / "s")
    with pytest.raises(DataError, match="not .video.: recover it with ImageSession.recover"):
        VideoSession.recover(tmp_path / "s", video_backend())
    assert ImageSession.recover(tmp_path / "s", image_backend(), autosave=False).masks.keys() == {1}


def test_enable_later_and_loaded_sessions(grabcut, tmp_path):
    image, gt, _ = grabcut
    s = ImageSession(image_backend(), image)
    s.add_point(*inside(gt))
    s.add_object()
    s.set_box(5, 5, 60, 60)
    s.undo()
    s.set_active(1)
    s.enable_autosave(tmp_path / "later")  # history before this call is kept
    s.add_point(*inside(gt, 30))
    s.close()
    r = ImageSession.recover(tmp_path / "later", image_backend())
    assert state_of(r) == state_of(s)
    assert_same_history(r, s)
    r.save(tmp_path / "saved")
    loaded = ImageSession.load(tmp_path / "saved", image_backend(), autosave=tmp_path / "loaded")
    assert read_header(tmp_path / "loaded")["base"] == "base"
    loaded.add_point(*inside(gt, 90), positive=False)
    loaded.close()
    back = ImageSession.recover(tmp_path / "loaded", image_backend())
    assert state_of(back) == state_of(loaded) and back.undo_depth == 1
    back.close()


# -- video sessions ----------------------------------------------------------------------------------------
def test_video_recovery_is_exact(frames_dir, gt0, tmp_path):
    folder = tmp_path / "v"
    s = VideoSession(video_backend(), frames_dir, autosave=folder)
    s.add_point(0, *inside(gt0))
    s.propagate()
    s.add_point(3, 5, 5, positive=False)
    o2 = s.add_object("water")
    s.set_box(2, 0, 0, 120, 80, obj_id=o2)
    s.propagate("both", start_frame_idx=2, max_frame_num_to_track=2)
    s.undo()
    s.redo()
    s.set_mask(4, 1, gt0)
    s.clear(obj_id=o2, frame_idx=2)
    s.undo()
    frame_lines = [r for r in log_lines(folder) if r["event"] == "frame"]
    assert [r["done"] for r in frame_lines] == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]
    s.close()
    r = VideoSession.recover(folder, video_backend())
    assert state_of(r) == state_of(s) and r.recovery.masks_mismatched == 0
    assert r.recovery.masks_checked == sum(len(s.masks_at(f)) for f in range(6))
    assert isinstance(r.log[-3], SetMask) and r.recovery.partial_frames is None
    assert_same_history(r, s)
    r.close()


def test_kill_mid_propagation_keeps_complete_frames(frames_dir, gt0, tmp_path):
    folder, crash = tmp_path / "v", tmp_path / "crash"
    s = VideoSession(video_backend(), frames_dir, autosave=folder)
    s.add_point(0, *inside(gt0))
    seen = {}

    def progress(done, total, frame_idx):
        if done == 3:  # the disk as a kill during frame 4 leaves it
            shutil.copytree(folder, crash)
            seen.update(state_of(s))

    s.propagate(progress=progress)
    s.close()
    r = VideoSession.recover(crash, video_backend())
    assert r.recovery.partial_frames == 3 and r.tracked_frames == [0, 1, 2]
    assert r.log[-1] == Propagate("forward", None, None, 3)  # as a cancel after 3 frames records it
    assert state_of(r)["masks"] == seen["masks"] and r.undo_depth == 2
    last = log_lines(crash)[-1]  # the cut-off propagation is closed in the log
    assert last["event"] == "action" and last["action"]["frames_done"] == 3 and "begin" in last
    r.propagate(start_frame_idx=2)
    r.close()
    again = VideoSession.recover(crash, video_backend())
    assert again.tracked_frames == list(range(6)) and state_of(again) == state_of(r)
    again.undo()
    again.undo()
    assert again.tracked_frames == [0]
    again.close()


def test_interrupted_propagation_is_rolled_back_in_the_log(frames_dir, gt0, tmp_path):
    folder = tmp_path / "v"
    s = VideoSession(video_backend(), frames_dir, autosave=folder)
    s.add_point(0, *inside(gt0))

    def interrupt(done, total, frame_idx):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        s.propagate(progress=interrupt)
    assert s.tracked_frames == [0] and log_lines(folder)[-1]["event"] == "abort"
    s.close()
    r = VideoSession.recover(folder, video_backend())
    assert state_of(r) == state_of(s) and r.recovery.masks_mismatched == 0
    r.close()
    assert (folder / HEADER).is_file()


def test_set_active_during_a_propagation_is_logged_after_it(frames_dir, gt0, tmp_path):
    folder = tmp_path / "v"
    s = VideoSession(video_backend(), frames_dir, autosave=folder)
    s.add_point(0, *inside(gt0))
    o2 = s.add_object()
    s.set_box(0, 0, 0, 120, 80, obj_id=o2)
    s.set_active(1)

    def switch(done, total, frame_idx):  # e.g. a UI callback: runs inside the action
        if done == 2:
            s.set_active(o2)

    s.propagate_async(progress=switch).result(timeout=120)
    events = [(r["event"], r.get("action", {}).get("type")) for r in log_lines(folder)]
    assert events[-2:] == [("action", "Propagate"), ("active", None)] and s.active_obj_id == o2
    s.close()
    r = VideoSession.recover(folder, video_backend(), autosave=False)
    assert state_of(r) == state_of(s)
    r.undo()
    s.undo()
    assert r.active_obj_id == s.active_obj_id == 1 and state_of(r) == state_of(s)
