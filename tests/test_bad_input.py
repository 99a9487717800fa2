"""Bad input is refused with a WorkbenchError that says what and how to fix, never silently used.

Real DAVIS frames / annotations and GrabCut items are damaged on the fly in tmp folders.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from workbench.errors import (
    ConfigError,
    DataError,
    DatasetNotFoundError,
    PromptError,
    ResultsFormatError,
    UnknownNameError,
)
from workbench.io import FrameSource, read_image, read_palette_mask, write_palette_mask
from workbench.io.datasets import ImageItem, VideoItem, decode_mask, load_image_set
from workbench.io.frames import list_frame_files
from workbench.io.images import read_mask
from workbench.runners.vos_eval import evaluate_vos, load_davis_gt

SEQ = "blackswan"


@pytest.fixture(scope="module")
def frame_jpg(davis_dir) -> Path:
    return davis_dir / "JPEGImages" / SEQ / "00000.jpg"


@pytest.fixture(scope="module")
def annotation_png(davis_dir) -> Path:
    return davis_dir / "Annotations" / SEQ / "00000.png"


# -- images -------------------------------------------------------------------------------------
@pytest.mark.parametrize("strict_flag", [False, True])
def test_truncated_jpeg_and_png_are_refused_even_with_pillows_lenient_flag(
    tmp_path, frame_jpg, annotation_png, monkeypatch, strict_flag
):
    # With LOAD_TRUNCATED_IMAGES=True Pillow would grey-fill the missing part without a word.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", strict_flag)
    for src, reader in ((frame_jpg, read_image), (annotation_png, read_palette_mask)):
        data = src.read_bytes()
        for frac in (0.99, 0.5, 0.1):
            bad = tmp_path / f"cut{int(frac * 100)}{src.suffix}"
            bad.write_bytes(data[: int(len(data) * frac)])
            with pytest.raises(DataError, match="truncated") as err:
                reader(bad)
            assert str(bad) in str(err.value) and "Re-export" in str(err.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is strict_flag  # the global flag is restored
    assert read_image(frame_jpg).shape == (480, 854, 3)


def test_files_that_are_not_images(tmp_path):
    cases = {
        "random.png": np.random.default_rng(0).bytes(3000),
        "empty.jpg": b"",
        "text.png": b"just some text\n",
        "header_only.png": b"\x89PNG\r\n\x1a\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        for reader in (read_image, read_palette_mask, read_mask):
            with pytest.raises(DataError, match="Cannot decode"):
                reader(tmp_path / name)

    # a valid PNG header claiming 60000 x 60000 pixels (a decompression bomb)
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 9)) + chunk(b"IEND", b"")
    )
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(DataError, match="too large to decode safely"):
        read_palette_mask(tmp_path / "bomb.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(DatasetNotFoundError):
        read_image(tmp_path / "folder.png")
    with pytest.raises(DatasetNotFoundError):
        read_image(tmp_path / "missing.jpg")


def test_image_modes_are_converted_as_documented(tmp_path, frame_jpg):
    rgb = read_image(frame_jpg)
    gray = np.asarray(Image.open(frame_jpg).convert("L"))
    Image.fromarray(gray).save(tmp_path / "l.png")
    out = read_image(tmp_path / "l.png")
    assert out.shape == rgb.shape and (out[..., 0] == gray).all() and (out[..., 2] == gray).all()
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])  # fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgb)  # alpha dropped, colour kept
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert np.abs(read_image(tmp_path / "c.jpg").astype(int) - rgb).mean() < 12
    g16 = gray.astype(np.uint16) * 40  # max 255 * 40
    Image.fromarray(g16).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[..., 1], (g16 / g16.max() * 255).astype(np.uint8))
    f32 = np.array([[np.nan, -3.0], [0.5, 2.0]], np.float32)
    Image.fromarray(f32, "F").save(tmp_path / "f.tif")
    assert read_image(tmp_path / "f.tif")[..., 0].tolist() == [[0, 0], [63, 255]]
    one_bit = Image.fromarray(gray > 128).convert("1")
    one_bit.save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) == {0, 255}


def test_mask_reading_rules(tmp_path, annotation_png):
    ids = read_palette_mask(annotation_png)
    assert set(np.unique(ids)) == {0, 1}
    assert read_mask(annotation_png).sum() == (ids == 1).sum() > 0  # 0/1 palette mask: value 1
    Image.fromarray(ids.astype(bool)).convert("1").save(tmp_path / "one_bit.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "one_bit.png"), ids == 1)
    Image.fromarray(ids * 255).save(tmp_path / "l255.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "l255.png"), ids == 1)
    Image.fromarray(np.dstack([ids * 255] * 3)).save(tmp_path / "gray_rgb.png")
    np.testing.assert_array_equal(read_palette_mask(tmp_path / "gray_rgb.png"), ids * 255)
    colour = np.dstack([ids * 255, ids * 0, ids * 0])
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(DataError, match="colour RGB PNG"):
        read_palette_mask(tmp_path / "colour.png")
    Image.fromarray(ids.astype(np.uint16) * 300).save(tmp_path / "ids16.png")
    with pytest.raises(DataError, match="outside 0..255"):
        read_palette_mask(tmp_path / "ids16.png")
    Image.fromarray(ids.astype(np.float32), "F").save(tmp_path / "float.tif")
    with pytest.raises(DataError, match="not a palette or grayscale"):
        read_palette_mask(tmp_path / "float.tif")
    for bad in (np.full((3, 3), 0.5), np.full((3, 3), np.nan), np.zeros((2, 3, 3)), np.full((2, 2), -1)):
        with pytest.raises(DataError):
            write_palette_mask(tmp_path / "w.png", bad)
    assert not (tmp_path / "w.png").exists()


# -- image sets ---------------------------------------------------------------------------------
def _one_item(data_dir: Path, tmp_path: Path, name: str, encoding: str, mask: np.ndarray | None = None) -> ImageItem:
    """GrabCut image 124080 with ``mask`` (default: its real mask) as an ImageItem."""
    real = load_image_set("grabcut", data_dir, subset=["124080"])[0]  # has a 128 ignore band
    mask_path = tmp_path / f"{name}.png"
    if mask is None:
        shutil.copy(real.mask_path, mask_path)
    else:
        Image.fromarray(mask).save(mask_path)
    return ImageItem("test", name, real.image_path, mask_path, encoding)


def test_binary_and_grabcut_masks_with_unexpected_values_are_refused(data_dir, tmp_path):
    real = _one_item(data_dir, tmp_path, "real", "grabcut")
    _image, gt, ignore = real.load()
    assert ignore.any() and gt.any()
    raw = read_palette_mask(real.mask_path)
    with pytest.raises(DataError, match=r"value\(s\) 128 besides 0/255 or 0/1"):
        _one_item(data_dir, tmp_path, "band_as_binary", "binary", raw).load()
    soft = np.asarray(
        Image.fromarray(raw)
        .resize((raw.shape[1] // 2, raw.shape[0] // 2), Image.BILINEAR)
        .resize((raw.shape[1], raw.shape[0]), Image.BILINEAR)
    )
    with pytest.raises(DataError, match="nearest-neighbour") as err:
        _one_item(data_dir, tmp_path, "resized", "grabcut", soft).load()
    assert "resized.png" in str(err.value)
    # 0/1 and 0/255 binary masks give the same object; ids_union takes any id
    obj = (raw == 255).astype(np.uint8)
    a = _one_item(data_dir, tmp_path, "zero_one", "binary", obj).load()[1]
    b = _one_item(data_dir, tmp_path, "zero_255", "binary", obj * 255).load()[1]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, gt)
    ids = obj * 7
    ids[0, 0] = 255
    _, union_gt, union_ignore = _one_item(data_dir, tmp_path, "ids", "ids_union", ids).load()
    assert union_ignore.sum() == 1 and union_gt.sum() == obj.sum() - obj[0, 0]
    with pytest.raises(UnknownNameError, match="binary"):
        decode_mask(ids, "binary_soft")


def test_empty_mask_and_size_mismatch(data_dir, tmp_path):
    real = _one_item(data_dir, tmp_path, "real", "grabcut")
    raw = read_palette_mask(real.mask_path)
    with pytest.raises(DataError, match="empty"):
        _one_item(data_dir, tmp_path, "empty", "binary", np.zeros_like(raw)).load()
    with pytest.raises(DataError, match="must match"):
        _one_item(data_dir, tmp_path, "small", "grabcut", raw[:-1]).load()


# -- video folders and files --------------------------------------------------------------------
def _copy_frames(davis_dir: Path, dst: Path, numbers: list[int], source: list[int] | None = None) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for n, s in zip(numbers, source or numbers):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{s:05d}.jpg", dst / f"{n:05d}.jpg")
    return dst


def test_gaps_in_frame_numbering_are_refused_or_explicitly_allowed(davis_dir, tmp_path):
    folder = _copy_frames(davis_dir, tmp_path / "gaps", [0, 1, 3, 7, 8])
    with pytest.raises(DataError, match=r"4 missing \(2, 4-6\)") as err:
        FrameSource(folder)
    assert "allow_gaps=True" in str(err.value)
    with pytest.raises(DataError, match="gaps"):
        _ = VideoItem("gaps", folder, None).num_frames
    src = FrameSource(folder, allow_gaps=True)
    assert len(src) == 5 and src.frame_files[2].name == "00003.jpg"
    np.testing.assert_array_equal(src[2], read_image(folder / "00003.jpg"))
    # consecutive numbering starting at 1 is not a gap
    assert len(list_frame_files(_copy_frames(davis_dir, tmp_path / "from1", [1, 2, 3]))) == 3


def test_mixed_frame_sizes_are_found_before_decoding(davis_dir, tmp_path):
    folder = _copy_frames(davis_dir, tmp_path / "mixed", [0, 1, 2])
    Image.open(folder / "00002.jpg").resize((427, 240)).save(folder / "00002.jpg")
    src = FrameSource(folder)  # lazy by default: refuses the frame when it is read
    with pytest.raises(DataError, match="share one size"):
        src[2]
    with pytest.raises(DataError, match=r"00002.jpg \(427x240\)"):
        FrameSource(folder, check_sizes=True)
    with pytest.raises(DataError, match="frame 1"):
        FrameSource([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], check_sizes=True)
    with pytest.raises(DataError, match="got int"):
        FrameSource(42)


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory, davis_dir) -> Path:
    import av

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 854, 480, "yuv420p"
        for i in range(6):
            frame = read_image(davis_dir / "JPEGImages" / SEQ / f"{i:05d}.jpg")
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_undecodable_videos_raise_data_error(tmp_path, clip_mp4):
    assert len(FrameSource(clip_mp4)) == 6
    data = clip_mp4.read_bytes()
    cases = {
        "random.mp4": np.random.default_rng(1).bytes(20000),
        "empty.mp4": b"",
        "cut90.mp4": data[: int(len(data) * 0.9)],
        "cut30.mp4": data[: int(len(data) * 0.3)],
        "header.mp4": data[:64],
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(DataError, match="Cannot decode video|no decodable frame") as err:
            src = FrameSource(tmp_path / name)
            [src[i] for i in range(len(src))]
        assert "mp4" in str(err.value)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="neither a frame folder nor a video"):
        FrameSource(tmp_path / "notes.txt")


def test_davis_annotations_must_match_the_frames(davis_dir, tmp_path):
    frames = _copy_frames(davis_dir, tmp_path / "JPEGImages" / SEQ, [0, 1, 2])
    ann = tmp_path / "Annotations" / SEQ
    ann.mkdir(parents=True)
    for i in range(3):
        shutil.copy(davis_dir / "Annotations" / SEQ / f"{i:05d}.png", ann / f"{i:05d}.png")
    item = VideoItem(SEQ, frames, ann)
    assert item.load_annotations().shape == (3, 480, 854)
    small = read_palette_mask(ann / "00001.png")[::2, ::2]
    write_palette_mask(ann / "00001.png", small)
    with pytest.raises(DataError, match=r"00001.png is 427x240 .* 854x480"):
        item.load_annotations()
    (ann / "00001.png").unlink()
    with pytest.raises(DataError, match="gaps"):
        item.load_annotations()


# -- DAVIS results folders ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def gt(davis_dir):
    return load_davis_gt(davis_dir, sequences=SEQ, keep_in_memory=True)


def _results_from_gt(
    gt, root: Path, seq_dir: Path | None = None, transform=None, suffix=".png", frames: int = 3
) -> Path:
    """Results made from the ground truth: symlinks to the annotation PNGs (scores perfectly),
    or the first ``frames`` frames re-saved through ``transform`` (enough to be refused)."""
    names, ids = gt.read(SEQ)
    folder = seq_dir or root / SEQ
    folder.mkdir(parents=True, exist_ok=True)
    for n, m in zip(names[:frames] if transform else names, ids):
        if transform is None:
            (folder / f"{n}.png").symlink_to(gt.annotations / SEQ / f"{n}.png")
        else:
            Image.fromarray(transform(m)).save(folder / f"{n}{suffix}")
    return root


def test_results_folders_that_are_not_davis_format(gt, tmp_path):
    ok = _results_from_gt(gt, tmp_path / "ok")
    assert evaluate_vos(gt, ok).global_["J-Mean"] == 1.0  # the GT itself scores perfectly
    rgb = _results_from_gt(gt, tmp_path / "rgb", transform=lambda m: np.dstack([m * 128, m * 0, m * 0]))
    with pytest.raises(ResultsFormatError, match="colour RGB PNG"):
        evaluate_vos(gt, rgb)
    jpg = _results_from_gt(gt, tmp_path / "jpg", transform=lambda m: m * 255, suffix=".jpg")
    with pytest.raises(ResultsFormatError, match="Found 00001.jpg instead"):
        evaluate_vos(gt, jpg)
    renamed = _results_from_gt(gt, tmp_path / "renamed", transform=lambda m: m)
    for p in (renamed / SEQ).glob("*.png"):
        p.rename(p.with_name(f"{int(p.stem)}.png"))
    with pytest.raises(ResultsFormatError, match="zero-padded"):
        evaluate_vos(gt, renamed)
    nested = _results_from_gt(
        gt, tmp_path / "nested", seq_dir=tmp_path / "nested" / "my_method" / SEQ, transform=lambda m: m
    )
    with pytest.raises(ResultsFormatError, match="nested one level deeper") as err:
        evaluate_vos(gt, nested)
    assert str(nested / "my_method") in str(err.value)
    flat = _results_from_gt(gt, tmp_path / "flat", seq_dir=tmp_path / "flat", transform=lambda m: m)
    with pytest.raises(ResultsFormatError, match="PNG files directly"):
        evaluate_vos(gt, flat)
    with pytest.raises(ResultsFormatError, match="does not exist"):
        evaluate_vos(gt, tmp_path / "nowhere")


def test_result_ids_beyond_the_first_frame_objects(gt, tmp_path):
    extra = _results_from_gt(gt, tmp_path / "extra")
    m = read_palette_mask(extra / SEQ / "00010.png")
    (extra / SEQ / "00010.png").unlink()  # a symlink to the ground truth: replace, never write through
    m[:5, :5] = 2
    write_palette_mask(extra / SEQ / "00010.png", m)
    with pytest.raises(ResultsFormatError, match=r"ids \[2\] .*objects: \[1\]"):
        evaluate_vos(gt, extra)
    m[:5, :5] = 255
    write_palette_mask(extra / SEQ / "00010.png", m)
    with pytest.raises(ResultsFormatError, match="void label"):
        evaluate_vos(gt, extra)


# -- names, prompts, empty / full masks ----------------------------------------------------------
def test_unknown_names_list_the_valid_ones():
    from workbench.backends import make_image_backend
    from workbench.backends.registry import get_spec

    with pytest.raises(UnknownNameError, match="sam2.1_hiera_tiny"):
        make_image_backend("sam2", model="sam3_hiera_tiny", checkpoint="random")
    with pytest.raises(UnknownNameError, match="classical"):
        make_image_backend("segformer")
    with pytest.raises(UnknownNameError, match="vit_b"):
        get_spec("vit_x", backend="sam")


def test_clicks_outside_the_image_raise_prompt_error(frame_jpg):
    from workbench.backends.classical import make_classical_image_backend
    from workbench.sessions.image import ImageSession

    image = read_image(frame_jpg)[:120, :200]
    backend = make_classical_image_backend()
    backend.set_image(image)
    for coords in ([[200, 10]], [[10, 120]], [[-1, 5]], [[np.nan, 5]]):
        with pytest.raises(PromptError):
            backend.predict(point_coords=np.array(coords, float), point_labels=np.array([1]))
    with pytest.raises(PromptError, match="XYXY"):
        backend.predict(box=np.array([50, 10, 20, 40]))
    session = ImageSession(backend, image)
    for x, y in ((200, 0), (0, 120), (-0.5, 3), ("left", 3)):
        with pytest.raises(PromptError):
            session.add_point(x, y)
    assert session.add_point(100, 60).candidates.shape[1:] == (120, 200)  # a valid click still works


def test_video_clicks_outside_the_frame_or_the_video_raise_prompt_error(davis_dir, tmp_path):
    from workbench.backends.classical import make_classical_video_backend
    from workbench.sessions.video import VideoSession

    frames = [read_image(davis_dir / "JPEGImages" / SEQ / f"{i:05d}.jpg")[:96, :128] for i in range(3)]
    session = VideoSession(make_classical_video_backend(), frames)
    for frame_idx, x, y in ((0, 128, 5), (0, 5, 96), (0, -1, 5), (3, 5, 5), (-1, 5, 5), (0, float("inf"), 5)):
        with pytest.raises(PromptError):
            session.add_point(frame_idx, x, y)
    with pytest.raises(PromptError, match="XYXY"):
        session.set_box(0, 10, 10, 200, 50)


def test_empty_and_full_masks_in_metrics_and_click_simulator():
    from workbench.metrics.davis import db_eval_boundary, db_eval_iou
    from workbench.metrics.image import boundary_f, dice, iou
    from workbench.protocols.clicks import ClickSimulator

    empty, full = np.zeros((30, 40), bool), np.ones((30, 40), bool)
    assert iou(empty, empty) == dice(empty, empty) == 1.0
    assert iou(full, empty) == dice(full, empty) == 0.0 and iou(full, full) == 1.0
    assert boundary_f(empty, empty) == 1.0 and db_eval_iou(full, empty) == 0.0
    assert 0.0 <= db_eval_boundary(full, empty) <= 1.0
    sim = ClickSimulator(full)
    first = sim.next_click(empty)
    # first pixel, in row-major order, at the largest distance (15) from the padded border
    assert first.is_positive and (first.y, first.x) == (14, 14)
    none_left = ClickSimulator(empty, on_no_error="raise")
    with pytest.raises(PromptError, match="No click can be made"):
        none_left.next_click(empty)
    ritm = ClickSimulator(empty).next_click(empty)
    assert (ritm.y, ritm.x, ritm.is_positive) == (0, 0, False)  # RITM's fallback
    with pytest.raises(DataError, match="shape"):
        sim.next_click(np.zeros((30, 41), bool))


# -- notebook parameters ------------------------------------------------------------------------
def _declared(**params: tuple[str, str]) -> dict:
    """What papermill.inspect_notebook returns: name -> (inferred_type_name, default source)."""
    return {k: {"name": k, "inferred_type_name": t, "default": d, "help": ""} for k, (t, d) in params.items()}


def test_notebook_parameters_of_the_wrong_type():
    from workbench.runners.params import expected_types, validate_notebook_parameters

    declared = _declared(
        backend=("None", '"classical"'),
        image_size=("int", "1024"),
        smoke=("None", "False"),
        threshold=("None", "0.5"),
        model=("None", "None"),
        subset=("Optional[List[str]]", "None"),
        n=("int | None", "None"),
        names=("None", '["a"]'),
        anything=("Any", "3"),
    )
    types = expected_types(declared)
    assert types["smoke"] == (bool,) and types["model"] is None and types["threshold"] == (int, float)
    assert types["anything"] == (int,)  # Any is not checkable: the default's type is used
    validate_notebook_parameters(
        declared,
        {
            "backend": "sam2",
            "image_size": 512,
            "smoke": True,
            "threshold": 1,
            "model": "tiny",
            "subset": ["x"],
            "n": None,
            "names": ("b",),
        },
    )
    bad = [
        ({"image_size": "512"}, "'image_size' expects int but got str '512'"),
        ({"image_size": 512.0}, "expects int but got float"),
        ({"smoke": 1}, "'smoke' expects bool but got int 1"),
        ({"threshold": True}, "expects int or float but got bool"),
        ({"subset": "x"}, "expects list or tuple or None"),
        ({"n": "3"}, "expects int or None"),
        ({"model": Path("/x")}, "str\\(path\\)"),
        ({"names": [object()]}, "cannot be written"),
    ]
    for given, needle in bad:
        with pytest.raises(ConfigError, match=needle) as err:
            validate_notebook_parameters(declared, given)
        assert "default" in str(err.value)
    with pytest.raises(UnknownNameError, match="image_size"):
        validate_notebook_parameters(declared, {"imagesize": 512})


@pytest.mark.slow  # importing papermill takes a few seconds
def test_parameters_as_papermill_declares_them(tmp_path):
    import nbformat
    import papermill as pm

    from workbench.runners.params import validate_notebook_parameters

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    cell = nbformat.v4.new_code_cell(
        'backend = "classical"  # name\nimage_size: int = 1024\nsmoke = False\n'
        "subset: Optional[List[str]] = None\nn: int | None = None\n"
        "k = 3  # a comment with = inside\n"
    )
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    declared = pm.inspect_notebook(str(tmp_path / "nb.ipynb"))
    assert declared["image_size"]["inferred_type_name"] == "int" and declared["backend"]["default"] == '"classical"'
    assert declared["smoke"]["inferred_type_name"] == "None" and declared["backend"]["help"] == "name"
    # papermill silently drops `x: int | None = …` and lines whose comment holds "=" (see params.py)
    assert "n" not in declared and "k" not in declared
    validate_notebook_parameters(declared, {"image_size": 256, "subset": ["a"], "smoke": True})
    with pytest.raises(ConfigError, match="'image_size' expects int"):
        validate_notebook_parameters(declared, {"image_size": "256"})
    real = pm.inspect_notebook(str(Path(__file__).parents[1] / "notebooks" / "interactive_image_benchmark.ipynb"))
    with pytest.raises(ConfigError, match="'smoke' expects bool"):
        validate_notebook_parameters(real, {"smoke": "yes"})
