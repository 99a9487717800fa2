"""One validator for every backend: the same bad image or prompt gets the same error type and
message from the classical, SAM (v1) and SAM 2 backends (images and videos), and the rules
documented in :mod:`workbench.backends.validate` hold. Capabilities are tested with ``supports``.

SAM and SAM 2 run with random weights at image_size=256 (nothing is segmented: every bad input
is refused before the model runs; valid prompts only check that the rule lets them through).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.backends import (
    CAPABILITIES,
    ConceptPrompts,
    MaskGenerator,
    MaskLogits,
    PolicySwitchable,
    Snapshotable,
    make_image_backend,
    supports,
)
from workbench.backends.classical import FlowVideoBackend, GrabCutImageBackend
from workbench.backends.validate import (
    check_box,
    check_frame_obj,
    check_image,
    check_mask,
    check_mask_input,
    check_points,
    check_prompt,
)
from workbench.errors import BackendError, DataError, PromptError, WorkbenchError

SIZE = 256
H, W = 48, 64


def _image(h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


BAD_PROMPTS = {
    "nothing": {},
    "coords without labels": {"point_coords": [[10, 10]]},
    "labels without coords": {"point_labels": [1]},
    "coords not numbers": {"point_coords": [["a", "b"]], "point_labels": [1]},
    "coords (N, 3)": {"point_coords": [[10, 10, 3]], "point_labels": [1]},
    "coords (2, 2, 2)": {"point_coords": np.zeros((2, 2, 2)), "point_labels": [1, 1]},
    "labels (N, 1)": {"point_coords": [[10, 10]], "point_labels": [[1]]},
    "fewer labels": {"point_coords": [[10, 10], [20, 20]], "point_labels": [1]},
    "label 2": {"point_coords": [[10, 10]], "point_labels": [2]},
    "label -1": {"point_coords": [[10, 10], [5, 5]], "point_labels": [1, -1]},
    "label text": {"point_coords": [[10, 10]], "point_labels": ["1"]},
    "NaN x": {"point_coords": [[np.nan, 10]], "point_labels": [1]},
    "infinite y": {"point_coords": [[10, np.inf]], "point_labels": [1]},
    "x = W": {"point_coords": [[W, 10]], "point_labels": [1]},
    "y = H": {"point_coords": [[10, H]], "point_labels": [1]},
    "negative x": {"point_coords": [[-0.5, 10]], "point_labels": [1]},
    "(row, col) swapped": {"point_coords": [[5, 60]], "point_labels": [1]},
    "box inverted x": {"box": [30, 10, 20, 40]},
    "box inverted y": {"box": [10, 40, 20, 30]},
    "box of 3": {"box": [0, 0, 10]},
    "two boxes": {"box": [[0, 0, 10, 10], [5, 5, 20, 20]]},
    "box NaN": {"box": [0, 0, np.nan, 10]},
    "box not numbers": {"box": ["a", 0, 1, 1]},
    "box outside": {"box": [0, 0, W + 1, 10]},
    "box negative": {"box": [-1, 0, 10, 10]},
    "mask_input of two masks": {"mask_input": np.zeros((2, 8, 8), np.float32)},
    "mask_input 4-D": {"mask_input": np.zeros((1, 1, 8, 8), np.float32)},
    "mask_input 1-D": {"mask_input": np.zeros(8, np.float32)},
    "good click, bad box": {"point_coords": [[10, 10]], "point_labels": [1], "box": [5, 5, 1, 9]},
    "empty points only": {"point_coords": np.zeros((0, 2)), "point_labels": np.zeros(0)},
}

BAD_IMAGES = {
    "float32": np.zeros((H, W, 3), np.float32),
    "gray": np.zeros((H, W), np.uint8),
    "RGBA": np.zeros((H, W, 4), np.uint8),
    "uint16": np.zeros((H, W, 3), np.uint16),
    "bool": np.zeros((H, W, 3), bool),
    "one pixel": np.zeros((1, 1, 3), np.uint8),
    "one row": np.zeros((1, W, 3), np.uint8),
    "empty": np.zeros((0, W, 3), np.uint8),
    "int": 42,
    "None": None,
    "ragged list": [[1, 2], [3]],
}


def _error(fn, *args, **kwargs) -> tuple[type, str]:
    with pytest.raises(WorkbenchError) as err:
        fn(*args, **kwargs)
    return type(err.value), str(err.value)


# -- the rules, without any model ---------------------------------------------------------------------
def test_image_rules():
    img = _image()
    assert check_image(img) is img  # contiguous uint8 arrays pass through uncopied
    view = img[:, ::2]
    out = check_image(view)
    assert out.flags.c_contiguous and np.array_equal(out, view)
    assert np.array_equal(check_image(Image.fromarray(img)), img)  # array-likes are read as arrays
    assert check_image(np.zeros((2, 2, 3), np.uint8)).shape == (2, 2, 3)  # the smallest image
    for name, bad in BAD_IMAGES.items():
        with pytest.raises(DataError) as err:
            check_image(bad)
        msg = str(err.value)
        assert "(H, W, 3) uint8" in msg or "at least 2 x 2" in msg, name
    with pytest.raises(DataError, match="float32"):
        check_image(np.zeros((H, W, 3), np.float32))
    with pytest.raises(DataError, match="from list"):
        check_image(np.zeros((H, W, 3)).tolist())  # lists of floats are not converted to uint8


def test_point_rules():
    coords, labels = check_points([3, 4], 1, (H, W))  # one point as (2,), one label as a scalar
    assert coords.shape == (1, 2) and coords.dtype == np.float64 and labels.tolist() == [1]
    assert labels.dtype == np.int64
    assert check_points(None, None, (H, W)) == (None, None)
    assert check_points(np.zeros((0, 2)), np.zeros(0), (H, W)) == (None, None)  # empty = no points
    assert check_points([[W - 0.01, H - 0.01], [0, 0]], [True, False], (H, W))[1].tolist() == [1, 0]
    check_points([[1, 1]], np.array([1.0]), (H, W))  # float labels 0.0 / 1.0 are fine
    with pytest.raises(PromptError, match=rf"0 <= x < {W} and 0 <= y < {H}"):
        check_points([[W, 0]], [1], (H, W))  # a click is on a pixel: x = W is outside
    with pytest.raises(PromptError, match=r"\(row, col\)"):
        check_points([[5, 60]], [1], (H, W))
    with pytest.raises(PromptError, match="entries"):
        check_points([[1, 1]], [[1]], (H, W))


def test_box_rules():
    assert check_box([1, 2, 3, 4], (H, W)).tolist() == [1, 2, 3, 4]
    assert check_box([[1, 2, 3, 4]], (H, W)).shape == (4,)
    assert check_box([5, 5, 5, 9], (H, W)).tolist() == [5, 5, 5, 9]  # zero width: a one-pixel-wide mask's box
    assert check_box([0, 0, W, H], (H, W)).tolist() == [0, 0, W, H]  # corners are pixel edges
    with pytest.raises(PromptError, match="x0 <= x1") as err:
        check_box([6, 5, 5, 9], (H, W))
    assert "XYXY" in str(err.value)
    with pytest.raises(PromptError, match="leaves") as err:
        check_box([0, 0, W, H + 0.5], (H, W))
    assert "outside" in str(err.value)


def test_mask_input_and_prompt_rules():
    assert check_mask_input(np.zeros((8, 8)), 8).shape == (1, 8, 8)
    assert check_mask_input(np.zeros((1, 8, 8)), 8).dtype == np.float32
    with pytest.raises(PromptError, match=r"\(1, 8, 8\)"):
        check_mask_input(np.zeros((1, 16, 16)), 8)
    with pytest.raises(PromptError, match="NaN"):
        check_mask_input(np.full((1, 8, 8), np.nan), 8)
    with pytest.raises(BackendError, match="set_image"):
        check_prompt(None, 8, box=[0, 0, 1, 1])
    p = check_prompt((H, W), 8, box=[0, 0, 1, 1], mask_input=np.zeros((8, 8)))
    assert p.point_coords is None and p.point_labels is None and p.box.shape == (4,) and p.mask_input.shape == (1, 8, 8)
    for kwargs in ({}, {"point_coords": np.zeros((0, 2)), "point_labels": []}):
        with pytest.raises(PromptError, match="No prompt"):
            check_prompt((H, W), 8, **kwargs)


def test_video_prompt_rules():
    assert check_frame_obj(np.int64(2), 7, 3) == (2, 7)
    for frame_idx, obj_id in ((3, 1), (-1, 1), (True, 1), (1.0, 1), (0, "a"), (0, False)):
        with pytest.raises(PromptError):
            check_frame_obj(frame_idx, obj_id, 3)
    m = np.zeros((H, W), np.uint8)
    m[1, 2] = 255
    out = check_mask(m, (H, W))
    assert out.dtype == bool and out.sum() == 1  # non-zero = object
    b = np.zeros((H, W), bool)
    assert check_mask(b, (H, W)) is not b  # copied
    with pytest.raises(PromptError, match=rf"\({H}, {W}\)"):
        check_mask(m[:-1], (H, W))


# -- every image backend gives the same errors -----------------------------------------------------
@pytest.fixture(scope="module")
def classical() -> GrabCutImageBackend:
    backend = make_image_backend("classical")
    backend.set_image(_image())
    return backend


@pytest.fixture(scope="module")
def sam2_backend():
    pytest.importorskip("torch")
    backend = make_image_backend("sam2", model="sam2.1_hiera_tiny", checkpoint="random", image_size=SIZE)
    backend.set_image(_image())
    return backend


@pytest.fixture(scope="module")
def sam_backend():
    pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    backend = make_image_backend("sam", model="vit_b", checkpoint="random", image_size=SIZE)
    backend.set_image(_image())
    return backend


def _fresh(backend):
    """The same backend without an image (SAM models share their weights)."""
    if isinstance(backend, GrabCutImageBackend):
        return GrabCutImageBackend()
    return type(backend)(backend.model, backend.info)


def _same_errors(backends: dict) -> None:
    """Feed every bad prompt / image to every backend: one error type and message per input."""
    for name, kwargs in BAD_PROMPTS.items():
        got = {b: _error(be.predict, **kwargs) for b, be in backends.items()}
        assert len(set(got.values())) == 1, (name, got)
        assert got[next(iter(got))][0] is PromptError, name
    for name, image in BAD_IMAGES.items():
        got = {b: _error(be.set_image, image) for b, be in backends.items()}
        assert len(set(got.values())) == 1, (name, got)
        assert got[next(iter(got))][0] is DataError, name
    for b, be in backends.items():  # a refused image keeps the previous one
        assert be.image_shape == (H, W), b
    got = {b: _error(_fresh(be).predict, point_coords=[[1, 1]], point_labels=[1]) for b, be in backends.items()}
    assert len(set(got.values())) == 1 and got[next(iter(got))][0] is BackendError, got
    # mask_input: each backend wants its own low-resolution side s; the rest of the message is shared
    for make in (lambda s: np.zeros((1, s + 4, s + 4), np.float32), lambda s: np.full((1, s, s), np.nan, np.float32)):
        got = set()
        for be in backends.values():
            s = be.low_res_size
            kind, msg = _error(be.predict, mask_input=make(s))
            got.add((kind, msg.replace(str(s + 4), "S+4").replace(str(s), "S")))
        assert len(got) == 1 and next(iter(got))[0] is PromptError, got


def test_classical_errors_follow_the_shared_rules(classical):
    _same_errors({"classical": classical})
    # valid edge prompts pass: zero-width box, click on the last pixel, float labels
    assert classical.predict(box=[5, 5, 5, 20]).masks.shape == (3, H, W)
    assert classical.predict(box=[W, 0, W, H]).masks.shape == (3, H, W)
    assert classical.predict(point_coords=[[W - 1, H - 1]], point_labels=[1.0]).masks.shape == (3, H, W)
    no_points = classical.predict(point_coords=np.zeros((0, 2)), point_labels=[], box=[5, 5, 30, 30])
    assert no_points.masks.shape == (3, H, W)


@pytest.mark.slow
def test_classical_sam_and_sam2_refuse_bad_input_identically(classical, sam_backend, sam2_backend):
    backends = {"classical": classical, "sam": sam_backend, "sam2": sam2_backend}
    _same_errors(backends)
    for be in backends.values():  # the edge cases the rules allow run on every backend
        assert be.predict(box=[5, 5, 5, 20], multimask_output=False).masks.shape == (1, H, W)
        corner = be.predict(point_coords=[[W - 1, H - 1]], point_labels=[1], multimask_output=False)
        assert corner.masks.shape == (1, H, W)
        low = be.predict(point_coords=[3, 4], point_labels=1).low_res_logits
        assert low.shape[1:] == (be.low_res_size, be.low_res_size)
        assert be.predict(mask_input=low[:1]).masks.shape == (3, H, W)


# -- video backends ---------------------------------------------------------------------------------------
BAD_VIDEO_CALLS = {
    "frame out of range": ("add_points", (3, 1, [[1, 1]], [1])),
    "negative frame": ("add_box", (-1, 1, [0, 0, 5, 5])),
    "bool obj_id": ("add_mask", (0, True, np.zeros((H, W), bool))),
    "no points": ("add_points", (0, 1, np.zeros((0, 2)), np.zeros(0))),
    "coords without labels": ("add_points", (0, 1, [[1, 1]], None)),
    "NaN click": ("add_points", (0, 1, [[np.nan, 1]], [1])),
    "click x = W": ("add_points", (0, 1, [[W, 1]], [1])),
    "label 3": ("add_points", (0, 1, [[1, 1]], [3])),
    "box inverted": ("add_box", (0, 1, [10, 10, 5, 20])),
    "box outside": ("add_box", (0, 1, [0, 0, 5, H + 1])),
    "mask of another size": ("add_mask", (0, 1, np.zeros((H, W - 1), bool))),
}


def _video_errors(backend) -> dict:
    return {name: _error(getattr(backend, method), *args) for name, (method, args) in BAD_VIDEO_CALLS.items()}


def test_classical_video_errors_follow_the_shared_rules():
    video = FlowVideoBackend()
    video.init_state([_image()] * 3)
    errors = _video_errors(video)
    assert all(kind is PromptError for kind, _ in errors.values()), errors
    assert video.obj_ids == []
    assert video.add_box(0, 1, [5, 5, 5, 30]).masks.shape == (1, H, W)  # zero width is a valid box


@pytest.mark.slow
def test_classical_and_sam2_video_refuse_bad_prompts_identically():
    pytest.importorskip("torch")
    from workbench.backends import make_video_backend

    frames = [_image()] * 3
    classical, sam2 = FlowVideoBackend(), make_video_backend("sam2", model="tiny", checkpoint="random", image_size=SIZE)
    for v in (classical, sam2):
        v.init_state(frames)
    assert _video_errors(classical) == _video_errors(sam2)
    assert sam2.obj_ids == []


# -- capabilities -----------------------------------------------------------------------------------------
def test_capabilities_are_declared_protocols():
    image, video = GrabCutImageBackend(), FlowVideoBackend()
    assert supports(image, MaskGenerator) and not supports(image, Snapshotable)
    assert supports(video, Snapshotable) and not supports(video, MaskGenerator)
    assert not supports(video, MaskLogits)
    assert not supports(video, PolicySwitchable)  # tracking policies are SAM 2's
    assert not supports(image, ConceptPrompts) and not supports(video, ConceptPrompts)  # text prompts are SAM 3's
    assert set(CAPABILITIES) == {MaskGenerator, Snapshotable, MaskLogits, PolicySwitchable, ConceptPrompts}

    class NotCallable:
        generate_masks = None

    assert not supports(NotCallable(), MaskGenerator) and not supports(None, Snapshotable)
    with pytest.raises(TypeError, match="MaskGenerator"):
        supports(image, int)


@pytest.mark.slow
def test_sam_backends_declare_their_capabilities(sam_backend, sam2_backend):
    from workbench.backends import make_video_backend

    assert supports(sam_backend, MaskGenerator) and supports(sam2_backend, MaskGenerator)
    assert not supports(sam2_backend, Snapshotable)
    video = make_video_backend("sam2", model="tiny", checkpoint="random", image_size=SIZE)
    assert supports(video, Snapshotable) and not supports(video, MaskGenerator)
    assert supports(video, MaskLogits)
