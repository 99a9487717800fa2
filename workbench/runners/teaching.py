"""Teaching SAM 2's memory: one DAVIS video tracked with each tracking policy, with the record of
which memories fed every prediction (``notebooks/teaching_memory.ipynb``).

:func:`memory_walkthrough` prompts one DAVIS object with its ground-truth mask on frame 0, tracks
it forward with every policy (one SAM 2 video backend and :class:`~workbench.sessions.VideoSession`
per policy, same weights) and keeps each frame's :class:`~workbench.types.MemoryTrace` (recorded
while the model ran, :meth:`workbench.sessions.VideoSession.memory_trace`). The
:class:`MemoryWalkthrough` it returns gives them as tables (:meth:`~MemoryWalkthrough.table`,
:meth:`~MemoryWalkthrough.comparison`), as a *memory matrix* figure
(:meth:`~MemoryWalkthrough.plot_memory`) and keeps the sessions for the annotator's memory view.

With random weights (``checkpoint="random"``) the memory *choices* are real (they follow each
policy's rules on the scores the model gave) but the masks, J and scores are meaningless: tables
and figures then say UNTRAINED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..backends import make_video_backend
from ..errors import ConfigError, DataError
from ..io.datasets import load_davis
from ..io.frames import FrameSource
from ..metrics.image import iou
from ..protocols.specs import BackendRequest
from ..sessions import VideoSession
from ..types import MemoryTrace

TEACHING_POLICIES = ("sam2", "samurai", "sam2long")
"""The tracking policies the walkthrough compares, in order."""

UNTRAINED_NOTE = "UNTRAINED weights: masks, J and scores are meaningless; the memory choices follow the rules"
"""Label of random-weight walkthroughs (tables, figure titles)."""

KINDS = {"cond_frames": "conditioning", "non_cond_frames": "memory", "obj_ptr_frames": "object pointers"}
"""Frame lists of a trace and their display names."""


@dataclass(frozen=True)
class MemoryWalkthrough:
    """One DAVIS object tracked with several policies, and what fed every prediction.

    Attributes
    ----------
    video : str
        DAVIS sequence name.
    obj_id : int
        The DAVIS object id tracked (object 1 of every session).
    num_frames : int
        Frames tracked (from frame 0, prompted with the ground-truth mask).
    untrained : bool
        Random weights.
    model : str
        Backend label (``sam2 · sam2.1_hiera_tiny · cpu · fp32``).
    traces : mapping of str to tuple of MemoryTrace
        Per policy, the traces in frame order (one per predicted frame).
    j : mapping of str to tuple of float
        Per policy, J (IoU with the ground truth, DAVIS void ignored) per frame.
    sessions : mapping of str to VideoSession
        Per policy, the session (for :class:`~workbench.widgets.VideoAnnotator`).
    """

    video: str
    obj_id: int
    num_frames: int
    untrained: bool
    model: str
    traces: Mapping[str, tuple[MemoryTrace, ...]]
    j: Mapping[str, tuple[float, ...]]
    sessions: Mapping[str, VideoSession] = field(repr=False)

    @property
    def policies(self) -> tuple[str, ...]:
        """The policies, in run order."""
        return tuple(self.traces)

    @property
    def banner(self) -> str:
        """Markdown line naming the run (with the UNTRAINED warning when so)."""
        text = f"**{self.video}**, object {self.obj_id}, {self.num_frames} frames, {self.model}"
        return text + (f" · ⚠️ **{UNTRAINED_NOTE}**" if self.untrained else "")

    def _policy(self, policy: str) -> str:
        if policy not in self.traces:
            raise ConfigError(f"No walkthrough for policy {policy!r}; it ran {list(self.traces)}.")
        return policy

    def table(self, policy: str) -> pd.DataFrame:
        """One row per frame: the frame lists (``"0 3 4"``), J and every score of ``policy``
        (columns as :meth:`~workbench.types.MemoryTrace.to_row`); the column ``weights`` says
        ``UNTRAINED`` for random weights.

        Raises
        ------
        ConfigError
            ``policy`` was not run.
        """
        p = self._policy(policy)
        df = pd.DataFrame([t.to_row() for t in self.traces[p]]).set_index("frame").drop(columns=["obj_id"])
        df.insert(0, "weights", "UNTRAINED" if self.untrained else "trained")
        df.insert(df.columns.get_loc("obj_ptr_frames") + 1, "J", [self.j[p][f] for f in df.index])
        return df

    def comparison(self, kind: str = "non_cond_frames") -> pd.DataFrame:
        """Frame x policy table of one frame list (``"cond_frames"``, ``"non_cond_frames"`` or
        ``"obj_ptr_frames"``), as ``"1 2 3"`` strings; the title row of the columns says
        UNTRAINED for random weights.

        Raises
        ------
        ConfigError
            Unknown ``kind``.
        """
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {list(KINDS)}; got {kind!r}.")
        data = {p: {t.frame_idx: t.to_row()[kind] for t in ts} for p, ts in self.traces.items()}
        df = pd.DataFrame(data, index=pd.Index(range(self.num_frames), name="frame")).fillna("")
        df.columns.name = KINDS[kind] + (" (UNTRAINED)" if self.untrained else "")
        return df

    def plot_memory(self, figsize: tuple[float, float] | None = None):
        """The *memory matrix* of every policy, side by side: one row per predicted frame, one
        column per frame of the video; a square where that frame's spatial memory was attended
        (blue: conditioning, green: non-conditioning), a dot where its object pointer was.
        Returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        n = len(self.traces)
        fig, axes = plt.subplots(1, n, figsize=figsize or (4.2 * n, 4.0), squeeze=False, sharey=True)
        for ax, (policy, traces) in zip(axes[0], self.traces.items()):
            for kind, color, marker, size in (
                ("cond_frames", "#1e63c8", "s", 40),
                ("non_cond_frames", "#2e9d4a", "s", 40),
                ("obj_ptr_frames", "#e08600", "o", 8),
            ):
                pts = [(f, t.frame_idx) for t in traces for f in getattr(t, kind)]
                if pts:
                    x, y = zip(*pts)
                    ax.scatter(x, y, c=color, marker=marker, s=size, label=KINDS[kind])
            ax.plot([0, self.num_frames - 1], [0, self.num_frames - 1], color="#d32f2f", lw=0.8, label="frame itself")
            ax.set_title(policy)
            ax.set_xlabel("memory from frame")
            ax.set_xlim(-0.5, self.num_frames - 0.5)
            ax.set_ylim(self.num_frames - 0.5, -0.5)
        axes[0][0].set_ylabel("predicted frame")
        legend: dict = {}
        for ax in axes[0]:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(label, handle)
        fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=len(legend), fontsize=9)
        title = f"What fed each prediction · {self.video}" + (" · UNTRAINED" if self.untrained else "")
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        return fig


def memory_walkthrough(
    video: str = "blackswan",
    backend: BackendRequest | None = None,
    *,
    max_frames: int | None = 16,
    policies: Sequence[str] = TEACHING_POLICIES,
    policy_params: Mapping[str, Mapping] | None = None,
    obj_id: int = 1,
    data_root: str | Path | None = None,
) -> MemoryWalkthrough:
    """Track DAVIS object ``obj_id`` of ``video`` from its ground-truth mask on frame 0 with each
    policy and record what fed every prediction.

    Parameters
    ----------
    video : str
        DAVIS sequence name (under ``data_root`` / ``$WORKBENCH_DATA_DIR``).
    backend : BackendRequest, optional
        The SAM 2 model: ``backend="sam2"`` with ``model``, ``checkpoint`` (``"random"``:
        UNTRAINED), ``image_size``, ``device`` as :func:`workbench.backends.make_video_backend`
        takes them. Default: SAM 2.1 tiny at 1024 px from ``$SAM2_CHECKPOINT_DIR``.
    max_frames : int or None
        Frames from the start (None: all).
    policies : sequence of str
        Tracking policies, each run on its own backend with the same weights.
    policy_params : mapping, optional
        ``policy -> {parameter: value}`` (names of each policy's paper), e.g.
        ``{"samurai": {"stable_frames_threshold": 5}}``.
    obj_id : int
        DAVIS object id (1 = the first annotated object).
    data_root : str or Path, optional
        Overrides ``$WORKBENCH_DATA_DIR``.

    Returns
    -------
    MemoryWalkthrough

    Raises
    ------
    DatasetNotFoundError, UnknownNameError
        No DAVIS data, unknown sequence, policy or parameter.
    DataError
        ``obj_id`` is not annotated on frame 0.
    ConfigError
        No policy, ``max_frames`` < 1, or a backend other than ``"sam2"`` (only SAM 2 has
        tracking policies and a memory to show).
    """
    request = backend if backend is not None else BackendRequest(backend="sam2", model="sam2.1_hiera_tiny")
    if request.backend != "sam2":
        raise ConfigError(
            f"The memory walkthrough needs a SAM 2 model (backend='sam2'); got backend={request.backend!r}."
        )
    if not policies:
        raise ConfigError("Give at least one tracking policy, e.g. policies=['sam2', 'samurai', 'sam2long'].")
    if max_frames is not None and int(max_frames) < 1:
        raise ConfigError(f"max_frames must be >= 1 (or None for all); got {max_frames}.")
    params = dict(policy_params or {})
    item = load_davis(data_root, [video])[0]
    source = FrameSource(item.frames_dir)
    n = len(source) if max_frames is None else min(len(source), int(max_frames))
    gt = item.load_annotations()[:n]
    first = gt[0] == obj_id
    if not first.any():
        present = sorted(int(v) for v in np.unique(gt[0]) if v not in (0, 255))
        raise DataError(f"Object {obj_id} is not annotated on frame 0 of {video}; annotated: {present}.")
    frames = [source[i] for i in range(n)]
    traces: dict[str, tuple[MemoryTrace, ...]] = {}
    j: dict[str, tuple[float, ...]] = {}
    sessions: dict[str, VideoSession] = {}
    untrained, label = False, ""
    for policy in policies:
        video_backend = make_video_backend(
            "sam2",
            model=request.model,
            checkpoint=request.checkpoint,
            device=request.device,
            image_size=request.image_size,
            policy=policy,
            policy_params=dict(params.get(policy, {})),
        )
        session = VideoSession(video_backend, frames, first_object=f"{video} #{obj_id}")
        session.set_mask(0, 1, first)
        session.propagate("forward")
        traces[policy] = tuple(session.memory_traces(1))
        j[policy] = tuple(
            iou(session.masks_at(f).get(1, np.zeros_like(first)), gt[f] == obj_id, ignore=gt[f] == 255)
            for f in range(n)
        )
        sessions[policy] = session
        untrained, label = session.backend_untrained, session.backend_label
    return MemoryWalkthrough(video, int(obj_id), n, untrained, label, traces, j, sessions)


__all__ = ["KINDS", "TEACHING_POLICIES", "UNTRAINED_NOTE", "MemoryWalkthrough", "memory_walkthrough"]
