"""Exports of per-frame id maps on real DAVIS data (blackswan ground truth, 6 frames, plus a
synthetic second object): DAVIS palette PNGs, COCO RLE JSON and overlay MP4 round trips, and
the duck-typed VideoSession adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from workbench.errors import DataError, ResultsFormatError
from workbench.io.export import (
    export_coco_rle,
    export_davis_pngs,
    export_overlay_mp4,
    load_coco_rle,
    session_colors,
    session_label_maps,
)
from workbench.io.frames import FrameSource
from workbench.io.images import DAVIS_PALETTE, read_palette_mask

SEQ = "blackswan"
N = 6


@pytest.fixture(scope="module")
def label_maps(davis_dir: Path) -> np.ndarray:
    """``(6, 480, 854)`` uint8: GT swan = 1, a synthetic box = 2 moving right 7 px per frame
    (only where the swan is not)."""
    maps = np.stack([read_palette_mask(davis_dir / "Annotations" / SEQ / f"{t:05d}.png") for t in range(N)])
    assert set(np.unique(maps)) == {0, 1}
    for t in range(N):
        box = np.zeros(maps.shape[1:], bool)
        box[30:95, 40 + 7 * t : 170 + 7 * t] = True
        maps[t][box & (maps[t] == 0)] = 2
    return maps


@pytest.fixture(scope="module")
def frames(davis_dir: Path) -> list[np.ndarray]:
    src = FrameSource(davis_dir / "JPEGImages" / SEQ)
    return [src[t] for t in range(N)]


def test_davis_pngs_round_trip(label_maps, tmp_path):
    paths = export_davis_pngs(label_maps, tmp_path / "res" / SEQ)
    assert [p.name for p in paths] == [f"{t:05d}.png" for t in range(N)]
    for t, p in enumerate(paths):
        np.testing.assert_array_equal(read_palette_mask(p), label_maps[t])
    img = Image.open(paths[0])
    assert img.mode == "P"
    assert np.array_equal(np.asarray(img.getpalette()[:9]).reshape(3, 3), DAVIS_PALETTE[:3])
    assert not list((tmp_path / "res" / SEQ).glob("*.tmp*"))

    # sparse frames, filled with background up to num_frames
    out = export_davis_pngs({0: label_maps[0], 2: label_maps[2]}, tmp_path / "sparse", num_frames=4)
    assert [p.name for p in out] == ["00000.png", "00001.png", "00002.png", "00003.png"]
    assert not read_palette_mask(out[1]).any()
    np.testing.assert_array_equal(read_palette_mask(out[2]), label_maps[2])


def test_export_refuses_bad_label_maps(label_maps, tmp_path):
    with pytest.raises(DataError, match="outside 0..255"):
        export_davis_pngs({0: label_maps[0].astype(np.int32) * 300}, tmp_path)
    with pytest.raises(DataError, match="integer object ids"):
        export_davis_pngs([label_maps[0].astype(np.float32)], tmp_path)
    with pytest.raises(DataError, match="one \\(H, W\\) shape"):
        export_davis_pngs([label_maps[0], label_maps[1][:100]], tmp_path)
    with pytest.raises(DataError, match="num_frames"):
        export_davis_pngs({5: label_maps[5]}, tmp_path, num_frames=3)
    with pytest.raises(DataError, match="No label maps"):
        export_davis_pngs({}, tmp_path)


def test_coco_rle_round_trip_with_area_and_bbox(label_maps, tmp_path):
    path = export_coco_rle(
        label_maps,
        tmp_path / "ann.json",
        video_name=SEQ,
        object_names={1: "swan", 2: "box"},
        categories={1: "bird", 2: "thing"},
    )
    data = json.loads(path.read_text())
    assert [im["frame_idx"] for im in data["images"]] == list(range(N))
    assert {c["name"]: c["id"] for c in data["categories"]} == {"bird": 1, "thing": 2}
    assert len(data["annotations"]) == 2 * N
    for ann in data["annotations"]:
        assert isinstance(ann["segmentation"]["counts"], str)
        m = label_maps[ann["frame_idx"]] == ann["obj_id"]
        rows, cols = np.nonzero(m)
        assert ann["area"] == m.sum()
        assert ann["bbox"] == [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
        assert ann["object_name"] == {1: "swan", 2: "box"}[ann["obj_id"]]
        assert ann["image_id"] == ann["frame_idx"] + 1
    back = load_coco_rle(path)
    assert sorted(back) == list(range(N))
    for t in range(N):
        assert sorted(back[t]) == [1, 2]
        for obj_id, mask in back[t].items():
            np.testing.assert_array_equal(mask, label_maps[t] == obj_id)


def test_load_coco_rle_refuses_polygons(tmp_path):
    bad = tmp_path / "poly.json"
    bad.write_text(
        json.dumps(
            {
                "images": [{"id": 1}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]}],
            }
        )
    )
    with pytest.raises(ResultsFormatError, match="not RLE"):
        load_coco_rle(bad)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ResultsFormatError, match="images"):
        load_coco_rle(tmp_path / "x.json")


def test_overlay_mp4_decodes_with_object_colours(frames, label_maps, tmp_path):
    colors = {2: (0, 255, 0)}
    path = export_overlay_mp4(frames, label_maps, tmp_path / "overlay.mp4", fps=10, alpha=0.6, colors=colors)
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == N and decoded[0].shape == frames[0].shape
    assert not list(tmp_path.glob(".*tmp*"))
    for obj_id, colour in ((1, DAVIS_PALETTE[1]), (2, np.array(colors[2]))):
        m = label_maps[3] == obj_id
        ys, xs = np.nonzero(m)
        k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))  # an interior pixel
        y, x = ys[k], xs[k]
        before = np.abs(frames[3][y, x].astype(int) - colour).sum()
        after = np.abs(decoded[3][y, x].astype(int) - colour).sum()
        assert after < before - 40, (obj_id, frames[3][y, x], decoded[3][y, x])
    # background stays close to the frame (lossy codec: a small tolerance)
    bg = label_maps[3] == 0
    assert np.abs(decoded[3][bg].astype(int) - frames[3][bg]).mean() < 4


def test_overlay_mp4_odd_size_and_errors(frames, label_maps, tmp_path):
    small = [f[:101, :151] for f in frames[:3]]
    path = export_overlay_mp4(small, {1: label_maps[1][:101, :151]}, tmp_path / "odd.mp4")
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 3 and decoded[0].shape == (102, 152, 3)
    with pytest.raises(DataError, match="Label maps are"):
        export_overlay_mp4(small, {0: label_maps[0]}, tmp_path / "bad.mp4")
    with pytest.raises(DataError, match="has no frame"):
        export_overlay_mp4(small, {7: label_maps[0][:101, :151]}, tmp_path / "bad.mp4")
    with pytest.raises(DataError, match="alpha"):
        export_overlay_mp4(small, {0: label_maps[0][:101, :151]}, tmp_path / "bad.mp4", alpha=2)
    assert not (tmp_path / "bad.mp4").exists()


def test_video_session_adapter(davis_dir, label_maps, tmp_path):
    from workbench.backends.classical import FlowVideoBackend
    from workbench.sessions import VideoSession

    folder = tmp_path / SEQ
    folder.mkdir()
    for t in range(4):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{t:05d}.jpg", folder / f"{t:05d}.jpg")
    s = VideoSession(FlowVideoBackend(), folder, first_object="swan")
    s.set_mask(0, 1, label_maps[0] == 1)
    s.add_object("box", color=(0, 200, 0))
    s.set_mask(0, 2, label_maps[0] == 2)
    s.propagate()
    assert s.tracked_frames == [0, 1, 2, 3]
    pairs = list(session_label_maps(s))
    assert [f for f, _ in pairs] == [0, 1, 2, 3]
    for f, m in pairs:
        assert m.dtype == np.uint8
        np.testing.assert_array_equal(m, s.label_map_at(f))
    assert session_colors(s)[2] == (0, 200, 0)
    paths = export_davis_pngs(s, tmp_path / "res")  # a session is accepted directly
    assert len(paths) == 4 and set(np.unique(read_palette_mask(paths[3]))) == {0, 1, 2}
    mp4 = export_overlay_mp4(s, s, tmp_path / "s.mp4", colors=session_colors(s))
    with av.open(str(mp4)) as c:
        assert c.streams.video[0].frames in (0, 4) and sum(1 for _ in c.decode(video=0)) == 4
    with pytest.raises(DataError, match="not a video session"):
        list(session_label_maps(object()))
