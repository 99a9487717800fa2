"""One overlap rule everywhere: where objects overlap, the LOWER object id wins, as SAM 2's
``tools/vos_inference.py`` (``put_per_obj_mask``) writes DAVIS PNGs — in the shared function,
the sessions' label maps and the DAVIS export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import DataError
from workbench.io.export import export_davis_pngs
from workbench.io.images import read_palette_mask
from workbench.io.label_maps import merge_object_masks, split_object_masks

SEQ = "blackswan"


def _three_overlapping(shape=(20, 30)) -> dict[int, np.ndarray]:
    a, b, c = (np.zeros(shape, bool) for _ in range(3))
    a[2:12, 2:20] = True
    b[6:16, 10:28] = True
    c[0:20, 15:18] = True
    return {3: c, 1: a, 2: b}  # insertion order must not matter


def _reference_put_per_obj_mask(masks: dict[int, np.ndarray]) -> np.ndarray:
    """tools/vos_inference.py's put_per_obj_mask, restated: paint in reverse-sorted id order."""
    out = np.zeros(next(iter(masks.values())).shape, np.uint8)
    for k in sorted(masks)[::-1]:
        out[masks[k]] = k
    return out


def test_lower_id_wins_where_objects_overlap():
    masks = _three_overlapping()
    ids = merge_object_masks(masks)
    assert ids.dtype == np.uint8 and ids.shape == (20, 30)
    np.testing.assert_array_equal(ids, _reference_put_per_obj_mask(masks))
    assert ids[8, 15] == 1  # all three overlap
    assert ids[14, 16] == 2  # 2 and 3 overlap
    assert ids[18, 16] == 3 and ids[0, 0] == 0


def test_stacks_dtypes_and_bad_input():
    masks = {k: np.stack([m, m[::-1]]) for k, m in _three_overlapping().items()}
    ids = merge_object_masks(masks)
    assert ids.shape == (2, 20, 30) and ids[0, 8, 15] == 1
    assert merge_object_masks({300: masks[1]}, dtype=np.int32).max() == 300
    assert merge_object_masks({}, (4, 5)).shape == (4, 5)
    with pytest.raises(DataError, match="valid 1..255"):
        merge_object_masks({300: masks[1]})
    with pytest.raises(DataError, match="valid 1"):
        merge_object_masks({0: masks[1]})
    with pytest.raises(DataError, match="shape"):
        merge_object_masks({1: masks[1], 2: masks[2][0]})
    with pytest.raises(DataError, match="shape=\\(H, W\\)"):
        merge_object_masks({})
    split = split_object_masks(merge_object_masks(_three_overlapping()))
    assert list(split) == [1, 2, 3] and split[1].dtype == bool
    assert list(split_object_masks(np.zeros((2, 2), np.uint8), [4])) == [4]


def test_video_session_label_map_and_davis_export_use_the_rule(davis_dir: Path, tmp_path: Path):
    from workbench.backends.classical import FlowVideoBackend
    from workbench.sessions import VideoSession
    from workbench.types import FrameMasks

    class OverlappingFlow(FlowVideoBackend):
        """The classical backend without its own overlap resolution (as SAM 2 without
        non_overlap_masks: objects may overlap)."""

        def _frame_masks(self, frame_idx):
            out = [self._prompts.get(o, {}).get(frame_idx) for o in self._obj_ids]
            masks = [p.mask if p is not None else self._output(o, frame_idx) for o, p in zip(self._obj_ids, out)]
            return FrameMasks(
                frame_idx,
                list(self._obj_ids),
                np.stack([np.zeros(self._shape(), bool) if m is None else m for m in masks]),
            )

    folder = tmp_path / SEQ
    folder.mkdir()
    for t in range(2):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{t:05d}.jpg", folder / f"{t:05d}.jpg")
    s = VideoSession(OverlappingFlow(), folder)
    swan = read_palette_mask(davis_dir / "Annotations" / SEQ / "00000.png") == 1
    box = np.zeros_like(swan)
    box[100:300, 200:400] = True
    assert (swan & box).any()
    s.add_object("box")  # id 2, added after 1 ...
    s.set_mask(0, 2, box)
    s.set_mask(0, 1, swan)  # ... but prompted last: the lower id still wins
    assert (s.masks_at(0)[1] & s.masks_at(0)[2]).any()
    ids = s.label_map_at(0)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, _reference_put_per_obj_mask({1: swan, 2: box}))
    export_davis_pngs(s, tmp_path / "res")
    np.testing.assert_array_equal(read_palette_mask(tmp_path / "res" / "00000.png"), ids)


def test_image_session_label_map_uses_the_rule():
    from workbench.backends.classical import GrabCutImageBackend
    from workbench.sessions import ImageSession

    image = np.zeros((40, 50, 3), np.uint8)
    a, b = np.zeros((40, 50), bool), np.zeros((40, 50), bool)
    a[5:25, 5:30] = True
    b[15:35, 20:45] = True
    s = ImageSession(GrabCutImageBackend(), image)
    s.add_object("second")
    s.set_mask(b, obj_id=2)
    s.set_mask(a, obj_id=1)
    np.testing.assert_array_equal(s.label_map(), _reference_put_per_obj_mask({1: s.masks[1], 2: s.masks[2]}))
    assert s.label_map()[20, 25] == 1
