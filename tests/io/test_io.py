"""Dataset loaders, frame sources and mask files on the real data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.errors import DataError, DatasetNotFoundError, UnknownNameError
from workbench.io import FrameSource, read_image, read_palette_mask, write_palette_mask
from workbench.io.datasets import IMAGE_SETS, list_image_sets, load_davis, load_image_set, sample_items


def test_every_image_set_in_the_data_loads(data_dir):
    names = list_image_sets(data_dir)
    assert {"grabcut", "coco_mval", "davis345", "hc18_ultrasound", "kvasir_polyp"} <= set(names)
    for name in names:
        items = load_image_set(name, data_dir)
        image, gt, ignore = items[0].load()
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert gt.shape == ignore.shape == image.shape[:2]
        assert gt.any() and not (gt & ignore).any()


def test_grabcut_ignore_band_and_davis345_union(data_dir):
    # 128 in GrabCut masks is the unscored band; davis345 merges all ids into one object
    items = {i.item_id: i for i in load_image_set("grabcut", data_dir)}
    raw = np.asarray(Image.open(items["124080"].mask_path))
    _, gt, ignore = items["124080"].load()
    assert ignore.sum() == (raw == 128).sum() > 0
    assert gt.sum() == (raw == 255).sum()
    item = load_image_set("davis345", data_dir)[0]
    ids = read_palette_mask(item.mask_path)
    _, gt, ignore = item.load()
    assert gt.sum() == ((ids > 0) & (ids < 255)).sum()


def test_subsets_and_unknown_names(data_dir):
    assert [i.item_id for i in load_image_set("grabcut", data_dir, subset=3)] == ["106024", "124080", "153077"]
    assert [i.item_id for i in load_image_set("grabcut", data_dir, subset=["153077"])] == ["153077"]
    with pytest.raises(UnknownNameError, match="grabcut"):
        load_image_set("grabcutt", data_dir)
    with pytest.raises(UnknownNameError):
        load_image_set("grabcut", data_dir, subset=["nope"])
    with pytest.raises(DatasetNotFoundError):
        load_image_set("grabcut", data_dir / "nowhere")


def test_davis_sequences_and_annotations(davis_dir):
    seqs = load_davis(davis_dir)
    assert [s.name for s in seqs] == (davis_dir / "ImageSets" / "val.txt").read_text().split()
    blackswan = seqs[0]
    ann = blackswan.load_annotations()
    assert ann.shape == (50, 480, 854) and set(np.unique(ann)) == {0, 1}
    # a data root that holds davis2016/ is found too
    assert load_davis(davis_dir.parent, subset=1)[0].name == "blackswan"


def test_samples_need_no_data_folder():
    items = sample_items()
    assert len(items) >= 3
    image, gt, _ignore = items[0].load()
    assert image.shape[:2] == gt.shape and gt.any()


def test_frame_source_folder_mp4_and_arrays(tmp_path, davis_dir):
    import av

    folder = davis_dir / "JPEGImages" / "blackswan"
    src = FrameSource(folder, cache_size=2)
    assert len(src) == 50 and (src.height, src.width) == (480, 854)
    np.testing.assert_array_equal(src[3], read_image(folder / "00003.jpg"))
    frames = [src[i] for i in range(5)]
    mp4 = tmp_path / "clip.mp4"
    with av.open(str(mp4), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 854, 480, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    video = FrameSource(mp4, cache_size=2)
    assert len(video) == 5 and video[4].shape == (480, 854, 3)
    # lossy codec: close to the source, and random access backwards re-decodes correctly
    assert np.abs(video[4].astype(int) - frames[4]).mean() < 8
    assert np.abs(video[0].astype(int) - frames[0]).mean() < 8
    arrays = FrameSource(frames)
    np.testing.assert_array_equal(arrays[2], frames[2])


def test_frame_source_refuses_bad_input(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        FrameSource(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError):
        FrameSource(tmp_path / "empty")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(mixed / "00000.jpg")
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(mixed / "00001.jpg")
    src = FrameSource(mixed)
    with pytest.raises(DataError, match="share one size"):
        src[1]
    with pytest.raises(DataError):
        FrameSource([np.zeros((4, 4), np.uint8)])


def test_palette_round_trip_and_corrupt_files(tmp_path):
    ids = np.zeros((20, 30), np.uint8)
    ids[2:5, 3:9] = 1
    ids[10:, 10:] = 2
    ids[0, 0] = 255
    write_palette_mask(tmp_path / "m.png", ids)
    img = Image.open(tmp_path / "m.png")
    assert img.mode == "P" and img.getpalette()[3:6] == [128, 0, 0]
    np.testing.assert_array_equal(read_palette_mask(tmp_path / "m.png"), ids)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="Cannot decode"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(DataError):
        write_palette_mask(tmp_path / "x.png", np.full((2, 2), 300))
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (5, 5, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match="palette"):
        read_palette_mask(tmp_path / "rgb.png")


def test_image_modes_are_converted(tmp_path):
    gray16 = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8 and img.max() == 255
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [200, 0, 0]


def test_mask_size_mismatch_is_refused(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    Image.fromarray(np.full((11, 12), 255, np.uint8)).save(tmp_path / "masks" / "a.png")
    IMAGE_SETS["_tmp"] = (".", "binary")
    try:
        item = load_image_set("_tmp", tmp_path)[0]
        with pytest.raises(DataError, match="must match"):
            item.load()
    finally:
        del IMAGE_SETS["_tmp"]
