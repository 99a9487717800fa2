"""Kill test of session autosave: a driver process runs a seeded random sequence of actions on
an autosaved image or video session (classical backend, real data) and is SIGKILLed at random
points, mid-click, mid-propagation and mid-export among them. After every kill the session is
recovered in this process and checked against a reference that replays the acknowledged actions
in a fresh session: every acknowledged action is in the log and the state, no file is
half-written, no temporary file survives recovery. Some folders are killed several times, the
driver recovering and going on each time.

With ``WORKBENCH_RELIABILITY_REPORT`` set, the figures (kills survived, actions checked, files
lost, ...) go to ``reports/reliability/autosave_kill.json``.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import FlowVideoBackend, GrabCutImageBackend
from workbench.errors import DatasetNotFoundError
from workbench.io.images import read_image, read_palette_mask
from workbench.sessions import ImageSession, VideoSession, action_from_json
from workbench.sessions.autosave import HEADER, LOG, MASKS
from workbench.sessions.journal import decode_line

pytestmark = pytest.mark.slow

ITEM, SEQ, N_FRAMES = "106024", "blackswan", 6
KILLS = {"image": 20, "video": 22}
CHAIN = 3  # a folder is killed up to this many times (the driver recovers and goes on)
REPO = Path(__file__).resolve().parents[2]

DRIVER = r"""
import json, random, sys
from pathlib import Path
import numpy as np
from workbench.backends.classical import FlowVideoBackend, GrabCutImageBackend
from workbench.errors import WorkbenchError
from workbench.io.export import export_davis_pngs
from workbench.io.images import read_image, read_palette_mask
from workbench.sessions import ImageSession, VideoSession

kind, folder, src, gt_path, seed, mode = sys.argv[1:7]
folder, rng = Path(folder), random.Random(int(seed))
def say(*parts):  # one write per line; a line cut by the kill has no newline and does not count
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()

gt = read_palette_mask(gt_path)
gt = gt == gt.max()
inside, outside = np.argwhere(gt), np.argwhere(~gt)
if kind == "image":
    backend = GrabCutImageBackend(max_side=96)
    make = lambda: ImageSession(backend, read_image(src), autosave=folder)
    cls = ImageSession
else:
    backend = FlowVideoBackend(flow_scale=0.25, flow_preset="ultrafast", max_side=96, image_kw={"max_side": 96})
    make = lambda: VideoSession(backend, src, autosave=folder)
    cls = VideoSession
s = cls.recover(folder, backend) if mode == "recover" else make()
H, W = s.height, s.width
say("OPEN", s.autosaver.last_seq)

def point():
    pos = rng.random() < 0.7
    y, x = (inside if pos else outside)[rng.randrange(len(inside if pos else outside))]
    return float(x), float(y), pos

def box():
    x0, y0 = rng.uniform(0, W * 0.6), rng.uniform(0, H * 0.6)
    return x0, y0, min(W, x0 + rng.uniform(20, W * 0.5)), min(H, y0 + rng.uniform(20, H * 0.5))

def progress(done, total, frame_idx):
    say("FRAME", done)

def choices():
    objs, out = s.obj_ids, []
    out += [("click", 30), ("box", 8), ("export", 9)]
    if s.can_undo: out.append(("undo", 12))
    if s.can_redo: out.append(("redo", 8))
    if len(objs) < 3: out.append(("add", 5))
    if len(objs) > 1: out += [("remove", 2), ("active", 5)]
    if kind == "image" and s.candidates is not None: out.append(("select", 8))
    if kind == "video":
        out.append(("mask", 3))
        if s.prompts: out += [("propagate", 16), ("clear", 3)]
    if kind == "video" and not s.tracked_frames: out.remove(("export", 9))
    return [c for c, _ in out], [w for _, w in out]

def act(what, frame, fa):
    event = None
    if what == "click":
        x, y, pos = point()
        s.add_point(*fa, x, y, positive=pos)
    elif what == "box":
        s.set_box(*fa, *box())
    elif what == "undo":
        s.undo()
    elif what == "redo":
        s.redo()
    elif what == "add":
        s.add_object()
    elif what == "remove":
        s.remove_object(rng.choice(s.obj_ids[1:]))
    elif what == "active":
        s.set_active(rng.choice(s.obj_ids))
        event = {"event": "active", "obj_id": s.active_obj_id}
    elif what == "select":
        s.select_candidate(rng.randrange(s.candidates.shape[0]))
    elif what == "mask":
        s.set_mask(frame, None, gt)
    elif what == "clear":
        s.clear(frame_idx=frame if rng.random() < 0.5 else None)
    elif what == "propagate":
        start = rng.choice([None] + sorted({f for f, _ in s.prompts}))
        s.propagate(rng.choice(["forward", "forward", "backward", "both"]), start,
                    rng.choice([None, None, 1, 3]), progress=progress)
    elif what == "export":
        if kind == "image":
            n = len(export_davis_pngs({0: s.label_map()}, folder / "export"))
        else:
            n = len(export_davis_pngs(s, folder / "export", num_frames=s.num_frames))
        event = {"event": "export", "files": n}
    return event or {"event": "action", "action": s.log[-1].to_json()}

for step in range(400):  # never reached: the test kills the driver first
    names, weights = choices()
    what = rng.choices(names, weights)[0]
    frame = rng.randrange(s.num_frames) if kind == "video" else 0
    fa = (frame,) if kind == "video" else ()
    say("BEGIN", what)
    try:
        event = act(what, frame, fa)
    except WorkbenchError as exc:  # refused (nothing is logged): go on
        say("ERR", type(exc).__name__)
        continue
    say("ACK", s.autosaver.last_seq, json.dumps(event))
say("DONE")
"""


def backends(kind):
    if kind == "image":
        return GrabCutImageBackend(max_side=96)
    return FlowVideoBackend(flow_scale=0.25, flow_preset="ultrafast", max_side=96, image_kw={"max_side": 96})


@pytest.fixture(scope="module")
def inputs(data_dir: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("kill")
    frames = root / "frames" / SEQ
    frames.mkdir(parents=True)
    for i in range(N_FRAMES):
        shutil.copy(data_dir / "davis2016" / "JPEGImages" / SEQ / f"{i:05d}.jpg", frames / f"{i:05d}.jpg")
    driver = root / "driver.py"
    driver.write_text(DRIVER)
    grabcut = data_dir / "images" / "grabcut"
    return {
        "root": root,
        "driver": driver,
        "image": (grabcut / "images" / f"{ITEM}.jpg", grabcut / "masks" / f"{ITEM}.png"),
        "video": (frames, data_dir / "davis2016" / "Annotations" / SEQ / "00000.png"),
    }


# -- one kill ----------------------------------------------------------------------------------------------
def run_and_kill(inputs, kind, folder, seed, mode, target, rng, stats: Counter) -> list[str]:
    """Start the driver, SIGKILL it at the point ``target`` names, return its stdout lines."""
    src, gt = inputs[kind]
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, str(inputs["driver"]), kind, str(folder), str(src), str(gt), str(seed), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    lines: queue.Queue = queue.Queue()
    # only complete lines count: a line the kill cut off (no newline) was never acknowledged
    reader = threading.Thread(target=lambda: [lines.put(x[:-1]) for x in proc.stdout if x.endswith("\n")], daemon=True)
    reader.start()
    seen: list[str] = []
    t0, limit = time.monotonic(), 10.0  # a target not met by then: killed at the limit
    if target == "time":
        deadline = t0 + rng.uniform(0.2, 2.5)
        trigger, delay = None, 0.0
    else:
        deadline = t0 + limit
        kind_of, _, count = target.partition(":")
        trigger = ("FRAME " + count) if kind_of == "frame" else "BEGIN " + kind_of
        nth = 1 if kind_of == "frame" else rng.randint(1, 2)
        delay = {"click": 0.08, "box": 0.05, "export": 0.004, "propagate": 0.15, "undo": 0.002, "frame": 0.0}[
            kind_of
        ] * rng.random()
    hits = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.01)
        except queue.Empty:
            continue
        seen.append(line)
        if trigger is not None and line == trigger:
            hits += 1
            if hits == nth:
                time.sleep(delay)
                break
    proc.kill()  # SIGKILL
    proc.wait(30)
    stats["kills"] += proc.returncode == -9
    reader.join(30)
    while not lines.empty():
        seen.append(lines.get())
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == -9 or (seen and seen[-1] == "DONE"), f"driver failed:\n{err[-3000:]}"
    return seen


def where_killed(lines: list[str]) -> str:
    """mid-<action> when the last BEGIN has no ACK, else between."""
    for line in reversed(lines):
        if line.split(" ")[0] in ("ACK", "OPEN", "ERR", "DONE"):
            return "between"
        if line.startswith("BEGIN"):
            return "mid-" + line.split()[1]
    return "startup"


# -- checks -----------------------------------------------------------------------------------------------
def check_files(folder: Path, after_recovery: bool, stats: Counter) -> None:
    """Every PNG decodes, every complete log line parses (a torn last line is tolerated before
    recovery), and after recovery no temporary file is left and every named mask exists."""
    for root, _, names in os.walk(folder):
        for name in names:
            p = Path(root) / name
            if ".tmp" in name:  # any temporary name (broader than the library's own patterns)
                assert not after_recovery, f"temporary file left after recovery: {p}"
                stats["temp_files_seen"] += 1
            elif name.endswith(".png"):
                rgb = name == "image.png" or "frames" in p.relative_to(folder).parts
                decoded = read_image(p) if rgb else read_palette_mask(p)  # raises on a half-written file
                assert decoded.ndim == (3 if rgb else 2)
                stats["pngs_decoded"] += 1
    log = folder / LOG
    if log.is_file():
        raw = log.read_bytes().split(b"\n")
        complete, tail = raw[:-1], raw[-1]
        for i, line in enumerate(complete):
            rec = decode_line(line)
            if rec is None and i == len(complete) - 1 and not tail and not after_recovery:
                stats["torn_lines"] += 1
                continue
            assert rec is not None and json.loads(line)["seq"] == i, f"{log} line {i + 1} is damaged"
        assert not (after_recovery and tail), "torn tail left after recovery"
        if after_recovery:
            named = {n for line in complete for n in (json.loads(line).get("masks") or {}).values()}
            missing = [n for n in named if not (folder / MASKS / n).is_file()]
            stats["files_lost"] += len(missing)
            assert not missing, f"mask files named by the log are missing: {missing}"


ACTION_OF = {
    "click": "AddPoints",
    "box": "SetBox",
    "undo": "Undo",
    "redo": "Redo",
    "add": "AddObject",
    "remove": "RemoveObject",
    "select": "SelectCandidate",
    "mask": "SetMask",
    "clear": "ClearPrompts",
    "propagate": "Propagate",
}


def item_of(entry: dict) -> dict:
    return {k: entry[k] for k in ("event", "action", "obj_id") if k in entry}


def replay(kind, inputs, items):
    src, _ = inputs[kind]
    backend = backends(kind)
    ref = ImageSession(backend, read_image(src)) if kind == "image" else VideoSession(backend, src)
    for it in items:
        if it["event"] == "active":
            ref.set_active(it["obj_id"])
        else:
            ref.apply(action_from_json(it["action"]))
    return ref


def state_of(s) -> dict:
    out = {
        "objects": {o: (x.name, x.color) for o, x in s.objects.items()},
        "active": s.active_obj_id,
        "log": [json.dumps(a.to_json(), sort_keys=True) for a in s.log],
        "timeline": [json.dumps(a.to_json(), sort_keys=True) for a in s.timeline],
        "undo": s.undo_depth,
        "redo": s.can_redo,
    }
    if s.kind == "image":
        out["masks"] = {o: m.tobytes() for o, m in s.masks.items()}
        out["prompts"] = {o: json.dumps(s.prompt_of(o).to_json()) for o in s.obj_ids}
        out["selected"] = {o: (r.selected, r.candidates.tobytes()) for o in s.obj_ids if (r := s.result(o))}
    else:
        out["masks"] = {(f, o): m.tobytes() for f in range(s.num_frames) for o, m in s.masks_at(f).items()}
        out["prompts"] = {
            k: (json.dumps(p.to_json()), None if p.mask is None else p.mask.tobytes()) for k, p in s.prompts.items()
        }
    return out


def same_history(a, b) -> bool:
    """Undo both sessions to the bottom of their history and redo back, comparing each step."""
    n = a.undo_depth
    if b.undo_depth != n:
        return False
    for step in ["undo"] * n + ["redo"] * n:
        getattr(a, step)()
        getattr(b, step)()
        if state_of(a)["masks"] != state_of(b)["masks"] or a.obj_ids != b.obj_ids:
            return False
    return state_of(a) == state_of(b)


def check_round(kind, inputs, folder, lines, before: list[dict], stats: Counter) -> list[dict] | None:
    """Recover ``folder`` and check it; returns the verified items of the folder (None when the
    driver was killed before its autosave started)."""
    acks = [
        (None if p[1] == "None" else int(p[1]), json.loads(p[2]))
        for p in (ln.split(" ", 2) for ln in lines)
        if p[0] == "ACK"
    ]
    acked = [(seq, it) for seq, it in acks if it["event"] != "export"]
    check_files(folder, False, stats)
    cls = ImageSession if kind == "image" else VideoSession
    if not (folder / HEADER).is_file():
        assert not acks and not any(ln.startswith("OPEN") for ln in lines)
        with pytest.raises(DatasetNotFoundError):
            cls.recover(folder, backends(kind))
        return None
    s = cls.recover(folder, backends(kind))  # goes on autosaving: closes a cut-off propagation in the log
    s.disable_autosave()
    rep = s.recovery
    assert rep.masks_mismatched == 0 and not rep.files_missing
    stats["temp_files_removed"] += len(rep.temp_files_removed)
    stats["orphan_files_removed"] += len(rep.orphan_files_removed)
    stats["torn_bytes_dropped"] += rep.torn_bytes
    check_files(folder, True, stats)

    items = [item_of(e) for e in rep.entries]
    seq_of = [e["seq"] for e in rep.entries]
    expected = before + [it for _, it in acked]
    assert items[: len(expected)] == expected, "an acknowledged action is missing from the recovered log"
    for k, (seq, _) in enumerate(acked):
        assert seq_of[len(before) + k] == seq
    extras = items[len(expected) :]
    assert len(extras) <= 1, f"more than the in-flight action was recovered: {extras}"
    killed = where_killed(lines)
    if extras:  # the action in flight, on disk but not acknowledged yet
        stats["in_flight_recovered"] += 1
        if killed == "mid-active":
            assert extras[0]["event"] == "active"
        else:
            assert extras[0]["action"]["type"] == ACTION_OF.get(killed[4:]), (killed, extras)
    if rep.partial_frames:
        assert killed == "mid-propagate" and extras[0]["action"]["frames_done"] == rep.partial_frames
        begin = max(i for i, ln in enumerate(lines) if ln == "BEGIN propagate")
        printed = sum(1 for ln in lines[begin:] if ln.startswith("FRAME"))
        assert printed <= rep.partial_frames <= printed + 1, "an acknowledged frame was lost"
        stats["partial_propagations"] += 1
        stats["frames_kept_from_cut_off_propagations"] += rep.partial_frames
    ref = replay(kind, inputs, expected + extras)
    assert state_of(s) == state_of(ref), "recovered state differs from the replayed acknowledged actions"
    last = lines[-1] if lines else ""
    if acks and acks[-1][1]["event"] == "export" and not extras and last.startswith("ACK"):
        export = folder / "export"
        for f in range(s.num_frames) if kind == "video" else [0]:
            ids = s.label_map_at(f) if kind == "video" else s.label_map()
            assert np.array_equal(read_palette_mask(export / f"{f:05d}.png"), ids)
        stats["exports_compared"] += 1
    assert same_history(s, ref), "undo/redo history differs"
    s.close()
    ref.close()
    stats["actions_checked"] += len(acked)
    stats["exports_acked"] += len(acks) - len(acked)
    stats[f"kills_{killed}"] += 1
    return expected + extras


def schedule(kind: str, n: int, rng: random.Random) -> list[str]:
    """Kill points: random times, and right after an action starts (mid-click etc.)."""
    base = ["time", "click", "export", "time", "box", "undo", "click", "export"]
    if kind == "video":
        base += ["propagate", "frame:1", "frame:3", "propagate", "frame:2"]
    out = [base[i % len(base)] for i in range(n)]
    rng.shuffle(out)
    return out


def test_kill_and_recover(inputs):
    rng = random.Random(20240611)
    stats: Counter = Counter()
    t0 = time.monotonic()
    for kind in ("image", "video"):
        targets = schedule(kind, KILLS[kind], rng)
        folder, history, chain = None, [], 0
        for i, target in enumerate(targets):
            if folder is None or chain >= CHAIN or rng.random() < 0.4:
                folder, history, chain = inputs["root"] / f"{kind}-{i:02d}", [], 0
            mode = "recover" if history or (folder / HEADER).is_file() else "fresh"
            t1 = time.monotonic()
            lines = run_and_kill(inputs, kind, folder, rng.randrange(10**6), mode, target, rng, stats)
            t2 = time.monotonic()
            verified = check_round(kind, inputs, folder, lines, history, stats)
            stats["seconds_in_driver"] += t2 - t1
            stats["seconds_recovering_and_checking"] += time.monotonic() - t2
            if verified is None:
                shutil.rmtree(folder, ignore_errors=True)
                folder = None
                stats["kills_before_autosave_started"] += 1
            else:
                history, chain = verified, chain + 1
            stats["rounds_survived"] += 1
    stats["files_lost"] += 0
    stats["kills_survived"] = stats["kills"]  # every round's checks passed (an assertion fails the test)
    assert stats["kills_mid-click"] >= 1 and stats["kills_mid-propagate"] >= 1 and stats["kills_mid-export"] >= 1, dict(
        stats
    )
    assert stats["kills"] >= 30 and stats["files_lost"] == 0
    if os.environ.get("WORKBENCH_RELIABILITY_REPORT"):
        out = REPO / "reports" / "reliability" / "autosave_kill.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "test": "tests/sessions/test_autosave_kill.py",
                    "seconds": round(time.monotonic() - t0, 1),
                    **{k: round(v, 1) if isinstance(v, float) else v for k, v in sorted(stats.items())},
                },
                indent=1,
            )
        )
