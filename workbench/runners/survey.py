"""The survey suite: SAM vs SAM 2 vs a weight-free baseline, as in Zhang & Tang's survey.

Reproduces the comparisons of "SAM2 for Image and Video Segmentation: A Comprehensive Survey"
(J. Zhang, H. Tang, arXiv 2503.12781, 2025): image metrics of §3.3 (IoU, Dice, mIoU, pixel
accuracy) on natural and medical sets, video metrics of §4.3 (J, F, J&F, the survey's G as
global pixel accuracy, FPS), and the weak points of §5 (domain shift to medical images, speed,
robustness to noise and occlusion).

The experiment notebooks each write one *experiment folder* ``<reports_root>/<run_id>/``
holding ``experiment.json`` (:class:`~workbench.runners.experiments.Experiment`: parameters, models, the runs,
failures, skipped combinations and the official checkpoints that are missing here) and
``runs/<run>/`` run folders written by the runners (run cards included). The report notebook
reads only those folders (:mod:`workbench.runners.survey_tables`).

========================  ======================================================================
notebook                  runs
========================  ======================================================================
exp_image_sam_vs_sam2     click protocol (1/3/5-click mIoU, oracle, NoC@85/90) + GT box prompt,
                          per model × natural set (grabcut, coco_mval, davis345)
exp_medical               the same per model × medical set (:data:`MEDICAL_SETS`) + 3-D volumes
                          by slice propagation (video backends)
exp_video_prompts         semi-supervised VOS on DAVIS per video model × first-frame prompt
                          (mask, box, 1/3/5 clicks), and detector prompts (per-frame boxes as
                          YOLO-SAM2, detect-then-track as Det-SAM2) from the ground-truth
                          detector at increasing noise
exp_tracking_policies     SAM 2 vs SAMURAI (tracking policies) per SAM 2 model × prompt
exp_interactive_video     SAM 2's promptable video segmentation (PVS: J&F after 1..8 annotated
                          frames, offline and online) per video model × tracking policy
exp_robustness            image and VOS protocols per model × corruption × severity, plus the
                          clean run (severity 0)
========================  ======================================================================

Each experiment function takes ``(models, spec, options, **settings)``: its settings as a
frozen spec (:class:`ImageExperimentSpec`, :class:`MedicalExperimentSpec`,
:class:`VideoExperimentSpec`, :class:`RobustnessExperimentSpec`), where it runs as
:class:`~workbench.runners.options.ExecutionOptions`, or both as the notebooks' flat keywords.
It turns them into one run spec (:mod:`workbench.protocols.specs`) per model and setting.

Models (:func:`survey_models`): the classical baseline always; every SAM 2 and SAM (v1)
checkpoint present in ``$SAM2_CHECKPOINT_DIR``; in smoke mode only the smallest present one
per family, or, when none is present, an UNTRAINED one (``checkpoint="random"``, 256 px): such
runs test the plumbing and speed only, and every table marks them "(UNTRAINED)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import ClassVar

from ..backends import BACKENDS
from ..backends.detectors.spec import DETECTOR_MODES, DetectorSpec
from ..backends.registry import MODEL_BACKENDS, available_models, get_spec, is_present, list_specs
from ..config import checkpoint_dir as default_checkpoint_dir
from ..errors import ConfigError, UnknownNameError
from ..io.corruptions import CORRUPTIONS
from ..protocols.detect import DETECTOR_PROMPT
from ..protocols.pvs import PVS_MODES
from ..protocols.vos import VOS_PROMPTS
from .experiments import EXPERIMENT_FILE, Experiment, experiment_runs, find_experiments, read_experiment
from .options import ExecutionOptions, bind_settings

SURVEY_EXPERIMENTS = (
    "exp_image_sam_vs_sam2",
    "exp_medical",
    "exp_video_prompts",
    "exp_robustness",
    "exp_tracking_policies",
    "exp_interactive_video",
)
"""Experiment notebooks of the survey suite, in run order."""
REPORT_NOTEBOOK = "survey_report"
NATURAL_SETS = ("grabcut", "coco_mval", "davis345")
MEDICAL_SETS = (
    "hc18_ultrasound",
    "ph2_dermoscopy",
    "drive_retina",
    "kvasir_polyp",
    "cxr_lungs",
    "sammed2d_ct",
    "stardist_nuclei",
    "pyradiomics_mri",
)
"""2-D medical sets (canonical names, see ``workbench.io.medical.MODALITIES``)."""
UNTRAINED_IMAGE_SIZE = 256
"""Input size of the UNTRAINED models of smoke runs (pixels)."""
SMOKE = {
    "subset": 2,
    "n_clicks": 5,
    "sequences": 1,
    "max_frames": 6,
    "volumes": 1,
    "max_frame_num_to_track": 3,
    "corruptions": ("gaussian_noise", "occluder"),
    "severities": (3,),
    "max_annotated_frames": 2,
    "detector_noise": (0.3,),
}
"""Sizes of a smoke run (minutes on 2 CPU cores); :data:`SMOKE_SUBSETS` overrides ``subset``,
:data:`SMOKE_FRAMES` ``max_frames``."""
SMOKE_SUBSETS = {"exp_medical": 1, "exp_robustness": 1}
"""Items per image set in smoke runs of the experiments with many sets or settings."""
SMOKE_FRAMES = {"exp_interactive_video": 3}
"""Frames per sequence in smoke runs of the experiments that track a video several times."""
FULL = {
    "subset": None,
    "n_clicks": 20,
    "sequences": None,
    "max_frames": None,
    "volumes": None,
    "max_frame_num_to_track": None,
    "corruptions": CORRUPTIONS,
    "severities": (1, 3, 5),
    "max_annotated_frames": 8,
    "detector_noise": (0.0, 0.1, 0.2, 0.4),
}
"""Sizes of a full run (every item)."""

__all__ = [
    "EXPERIMENT_FILE",
    "FULL",
    "MEDICAL_SETS",
    "NATURAL_SETS",
    "REPORT_NOTEBOOK",
    "SMOKE",
    "SMOKE_FRAMES",
    "SMOKE_SUBSETS",
    "SURVEY_EXPERIMENTS",
    "Experiment",
    "ImageExperimentSpec",
    "InteractiveVideoExperimentSpec",
    "MedicalExperimentSpec",
    "RobustnessExperimentSpec",
    "SurveyExperimentSpec",
    "TrackingPolicyExperimentSpec",
    "VideoExperimentSpec",
    "detector_noise_spec",
    "experiment_runs",
    "find_experiments",
    "image_experiment",
    "interactive_video_experiment",
    "medical_experiment",
    "missing_checkpoints",
    "normalise_models",
    "read_experiment",
    "robustness_experiment",
    "survey_models",
    "survey_plan",
    "tracking_policy_experiment",
    "video_experiment",
]


# --------------------------------------------------------------------------- models
def survey_models(smoke: bool = False, checkpoint_dir: str | Path | None = None, medical: bool = False) -> list[dict]:
    """The models the survey suite runs here.

    Parameters
    ----------
    smoke : bool
        Smoke mode: one SAM 2 and one SAM model at most (the smallest checkpoint present),
        UNTRAINED (``checkpoint="random"``, ``image_size`` :data:`UNTRAINED_IMAGE_SIZE`) for a
        family without any checkpoint; transformers model folders are used only when present.
    checkpoint_dir : path, optional
        Default ``$SAM2_CHECKPOINT_DIR``.
    medical : bool
        Also MedSAM2 (``MedSAM2_latest.pt``, 512 px) when present (the medical experiment).

    Returns
    -------
    list of dict
        ``{"backend", "model", "checkpoint", "image_size"}``: classical first, then SAM 2
        (SAM 2.1 before SAM 2, small to large; MedSAM2 with ``medical``), then SAM (vit_b,
        vit_l, vit_h), then the transformers model folders present (SAM 2.1 / 2, EdgeTAM, SAM 3
        tracker; smoke: the first one). Present checkpoints run at the model's own size (1024;
        MedSAM2 512, SAM 3 1008), ``checkpoint`` the file's (folder's) path.
    """
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    models = [{"backend": "classical", "model": None, "checkpoint": None, "image_size": 1024}]

    def _present(backend: str) -> list[tuple[str, str, int]]:
        out = []
        for m in available_models(folder, backend=backend):
            spec = get_spec(m, backend=backend)
            if spec.family == "medsam2" and not medical:
                continue
            if spec.architecture == "sam3":  # the concept model: the same folder as the SAM 3 tracker
                continue
            out.append((m, spec.filename, spec.image_size))
        return out

    fallbacks = {"sam2": "sam2.1_hiera_tiny", "sam": "vit_b", "transformers": None}
    for backend in ("sam2", "sam", "transformers"):
        present = _present(backend)
        fallback = fallbacks[backend]
        if smoke:
            present = present[:1]
            if not present and fallback is not None:
                models.append(
                    {"backend": backend, "model": fallback, "checkpoint": "random", "image_size": UNTRAINED_IMAGE_SIZE}
                )
        models += [
            {"backend": backend, "model": m, "checkpoint": str(folder / f), "image_size": size}
            for m, f, size in present
        ]
    return models


def missing_checkpoints(checkpoint_dir: str | Path | None = None) -> list[dict]:
    """Official SAM 2 / SAM 2.1 / SAM checkpoints whose file is not in the checkpoint folder.

    Returns
    -------
    list of dict
        ``{"backend", "model", "file", "folder"}``, one per missing file (registry order).
    """
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    specs = [*list_specs(), *list_specs(backend="sam")]
    return [
        {"backend": s.backend, "model": s.factory_name, "file": s.filename, "folder": str(folder)}
        for s in specs
        if not is_present(s, folder)
    ]


def normalise_models(models: Sequence[dict] | None, smoke: bool = False, device: str = "auto") -> list[dict]:
    """Check a notebook's ``models`` list and fill in defaults.

    Parameters
    ----------
    models : list of dict or None
        Each ``{"backend": ..., "model": ..., "checkpoint": ..., "image_size": ..., "device": ...}``
        (only ``backend`` required); None: :func:`survey_models`.
    device : str
        Torch device of entries without ``device``.

    Returns
    -------
    list of dict
        Entries with all five keys.

    Raises
    ------
    ConfigError
        An entry is not a dict, or has unknown keys or an unknown backend.
    """
    if models is None:
        models = survey_models(smoke)
    out = []
    keys = ("backend", "model", "checkpoint", "image_size", "device")
    for m in models:
        if not isinstance(m, dict) or "backend" not in m or set(m) - set(keys):
            raise ConfigError(
                f"Each model must be a dict with keys among {list(keys)} (backend required); got {m!r}. "
                'Example: {"backend": "sam2", "model": "sam2.1_hiera_tiny", "checkpoint": None}.'
            )
        if m["backend"] not in BACKENDS:
            raise ConfigError(f"Model {m!r}: backend must be one of {list(BACKENDS)}.")
        out.append(
            {
                "backend": m["backend"],
                "model": m.get("model"),
                "checkpoint": m.get("checkpoint"),
                "image_size": int(m.get("image_size") or _native_size(m["backend"], m.get("model"))),
                "device": m.get("device") or device,
            }
        )
    return out


def _native_size(backend: str, model: str | None) -> int:
    """Input size a registered model was trained at (MedSAM2 512, SAM 3 1008), else 1024."""
    if backend in MODEL_BACKENDS and model is not None:
        try:
            return int(get_spec(model, backend=backend).image_size)
        except UnknownNameError:
            return 1024
    return 1024


def _sizes(smoke: bool, name: str, **given) -> dict:
    """Smoke or full sizes of experiment ``name``, overridden by the values given (None keeps the default)."""
    base = dict(SMOKE if smoke else FULL)
    if smoke and name in SMOKE_SUBSETS:
        base["subset"] = SMOKE_SUBSETS[name]
    if smoke and name in SMOKE_FRAMES:
        base["max_frames"] = SMOKE_FRAMES[name]
    base.update({k: v for k, v in given.items() if v is not None})
    return base


# --------------------------------------------------------------------------- experiment specs
def _tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True, kw_only=True)
class SurveyExperimentSpec:
    """Settings of a survey experiment (base class; one subclass per experiment notebook).

    An experiment runs one benchmark per model × setting; it turns these settings into run
    specs (:mod:`workbench.protocols.specs`). Where it runs (experiment folder ``run_id`` under
    ``reports_root``, executor, workers, data root) is given by
    :class:`~workbench.runners.options.ExecutionOptions`.

    Attributes
    ----------
    models : tuple of dict or None
        Models to compare, each ``{"backend", "model", "checkpoint", "image_size", "device"}``
        (only ``backend`` required; see :func:`normalise_models`); None: :func:`survey_models`
        (the classical baseline and the checkpoints present in ``$SAM2_CHECKPOINT_DIR``).
    device : str
        Torch device of the models that do not name one (``"cpu"``, ``"cuda"``). Default
        ``"cpu"``.
    smoke : bool
        Smoke sizes (:data:`SMOKE`, :data:`SMOKE_SUBSETS`) for the sizes left None; default
        the full sizes (:data:`FULL`).
    seed : int
        Seed of every run (run card ``seed``; seeds the corruptions). Default 0.
    name : str
        Experiment name (``experiment.json`` ``experiment``; prefix of generated folder names);
        default the notebook's name.

    Raises
    ------
    ConfigError
        A model entry is not a dict with known keys and a known backend.
    """

    SIZES: ClassVar[tuple[str, ...]] = ()
    """Fields whose None means "the smoke / full size" (see :meth:`sizes`)."""

    models: tuple[dict, ...] | None = None
    device: str = "auto"
    smoke: bool = False
    seed: int = 0
    name: str = ""

    def __post_init__(self):
        models = self.models
        if models is not None:
            models = tuple(dict(m) if isinstance(m, dict) else m for m in models)
            normalise_models(models, self.smoke, self.device)  # raises ConfigError for bad entries
        object.__setattr__(self, "models", models)
        for f in fields(self):
            if f.name != "models":
                object.__setattr__(self, f.name, _tuple(getattr(self, f.name)))

    @classmethod
    def setting_names(cls) -> list[str]:
        """The field names (settings :meth:`from_settings` accepts)."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_settings(cls, base: SurveyExperimentSpec | None = None, **settings) -> SurveyExperimentSpec:
        """``base`` (default: the defaults) with the settings given by name replaced.

        Raises
        ------
        UnknownNameError
            A name is not a field (the message lists them).
        ConfigError
            As the spec's checks.
        """
        for key in settings:
            if key not in cls.setting_names():
                raise UnknownNameError(f"{cls.__name__} setting", key, cls.setting_names())
        return cls(**settings) if base is None else replace(base, **settings)

    def sizes(self) -> dict:
        """:data:`SMOKE` / :data:`FULL` sizes (by ``smoke`` and ``name``) with the size fields
        given (not None) replacing them."""
        return _sizes(self.smoke, self.name, **{k: getattr(self, k) for k in self.SIZES})

    def record(self, models: list[dict]) -> dict:
        """The experiment's ``experiment.json`` ``params``: its settings with the sizes
        resolved, ``models`` (the normalised list) and ``smoke``."""
        sizes = self.sizes()
        out = {
            f.name: sizes.get(f.name, getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("models", "device", "smoke", "name")
        }
        return {**out, "models": models, "smoke": self.smoke}


@dataclass(frozen=True, kw_only=True)
class ImageExperimentSpec(SurveyExperimentSpec):
    """``exp_image_sam_vs_sam2``: the click protocol and the GT-box prompt per model × image set.

    Attributes
    ----------
    datasets : tuple of str
        Image sets, any name :func:`workbench.protocols.specs.image_datasets` accepts (checked
        per run: an unknown one is recorded as a failed run). Default :data:`NATURAL_SETS`.
    subset : int, list of str or None
        Images per set, or ids; None: all (smoke 2).
    n_clicks : int or None
        Clicks per image (``max_clicks``); None: 20 (smoke 5).
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`.
    """

    SIZES: ClassVar[tuple[str, ...]] = ("subset", "n_clicks")

    name: str = "exp_image_sam_vs_sam2"
    datasets: tuple[str, ...] = NATURAL_SETS
    subset: int | tuple[str, ...] | None = None
    n_clicks: int | None = None


@dataclass(frozen=True, kw_only=True)
class MedicalExperimentSpec(SurveyExperimentSpec):
    """``exp_medical``: the image protocol per model × 2-D medical set, and 3-D volumes segmented
    as slice sequences per video model.

    Attributes
    ----------
    datasets : tuple of str
        2-D medical sets (default :data:`MEDICAL_SETS`).
    subset : int, list of str or None
        Images per set; None: all (smoke 1).
    n_clicks : int or None
        Clicks per image; None: 20 (smoke 5).
    volumes : int, list of str or None
        Volumes of ``medical/mri_volumes``; None: all (smoke 1); 0 skips the volumes.
    volume_prompt : str
        Prompt on the prompt slice (``workbench.protocols.volumes.VOLUME_PROMPTS``). Default
        ``"mask"``.
    max_frame_num_to_track : int or None
        Slices tracked on each side of the prompt slice; None: all (smoke 3).
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`.
    """

    SIZES: ClassVar[tuple[str, ...]] = ("subset", "n_clicks", "volumes", "max_frame_num_to_track")

    name: str = "exp_medical"
    datasets: tuple[str, ...] = MEDICAL_SETS
    subset: int | tuple[str, ...] | None = None
    n_clicks: int | None = None
    volumes: int | tuple[str, ...] | None = None
    volume_prompt: str = "mask"
    max_frame_num_to_track: int | None = None


def detector_noise_spec(
    level: float, mode: str = "detect_track", detect_interval: int = 10, seed: int = 0
) -> DetectorSpec:
    """The ground-truth detector of one noise level of the detector study: ``jitter``,
    ``miss_rate`` and ``false_positives`` all equal to ``level`` (box coordinates move by
    ``level`` x the box size (standard deviation), a box is missed with probability ``level``,
    ``level`` false boxes per frame on average; see
    :class:`~workbench.backends.detectors.GroundTruthDetector`).

    Raises
    ------
    ConfigError, UnknownNameError
        ``level`` outside [0, 1], unknown ``mode``.
    """
    if not 0 <= float(level) <= 1:
        raise ConfigError(f"Detector noise levels must lie in [0, 1] (the miss rate is one of them); got {level!r}.")
    level = float(level)
    return DetectorSpec(
        kind="gt",
        jitter=level,
        miss_rate=level,
        false_positives=level,
        seed=int(seed),
        mode=mode,
        detect_interval=int(detect_interval),
    )


@dataclass(frozen=True, kw_only=True)
class VideoExperimentSpec(SurveyExperimentSpec):
    """``exp_video_prompts``: semi-supervised VOS on DAVIS per video model × first-frame prompt,
    and the detector-prompt study: the same models prompted by the ground-truth detector
    (``prompt="detector"``) at increasing noise, per prompting mode, beside the GT-mask prompt.

    Attributes
    ----------
    prompts : tuple of str
        First-frame prompts (``workbench.protocols.vos.VOS_PROMPTS``; default all five).
    sequences : int, list of str or None
        DAVIS sequences; None: all (smoke 1).
    max_frames : int or None
        Frames per sequence; None: all (smoke 6).
    detector_noise : tuple of float or None
        Noise levels of the ground-truth detector (:func:`detector_noise_spec`: jitter, miss
        rate and false boxes per frame all equal to the level); None: 0, 0.1, 0.2, 0.4 (smoke
        0.3); ``()``: no detector runs.
    detector_modes : tuple of str
        Prompting modes (``workbench.backends.detectors.DETECTOR_MODES``): ``detect_track``
        (Det-SAM2) and ``per_frame`` (YOLO-SAM2); default both.
    detect_interval : int
        ``detect_track``: detect every k-th frame (Det-SAM2's ``detect_interval``). Default 10.
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`; ``seed`` also seeds the detector noise.

    Raises
    ------
    ConfigError
        An unknown prompt or mode, a noise level outside [0, 1] (the message lists the valid ones).
    """

    SIZES: ClassVar[tuple[str, ...]] = ("sequences", "max_frames", "detector_noise")

    name: str = "exp_video_prompts"
    prompts: tuple[str, ...] = VOS_PROMPTS
    sequences: int | tuple[str, ...] | None = None
    max_frames: int | None = None
    detector_noise: tuple[float, ...] | None = None
    detector_modes: tuple[str, ...] = DETECTOR_MODES
    detect_interval: int = 10

    def __post_init__(self):
        bad = [p for p in self.prompts if p not in VOS_PROMPTS]
        if bad:
            raise ConfigError(f"Unknown VOS prompt(s) {bad}; valid: {list(VOS_PROMPTS)}.")
        bad = [m for m in self.detector_modes if m not in DETECTOR_MODES]
        if bad:
            raise ConfigError(f"Unknown detector prompting mode(s) {bad}; valid: {list(DETECTOR_MODES)}.")
        for level in self.detector_noise or ():
            detector_noise_spec(level)  # raises for levels outside [0, 1]
        super().__post_init__()

    def detector_specs(self) -> list[DetectorSpec]:
        """The detector of every detector run: each mode × noise level (sizes resolved)."""
        levels = self.sizes()["detector_noise"] or ()
        return [
            detector_noise_spec(level, mode, self.detect_interval, self.seed)
            for mode in self.detector_modes
            for level in levels
        ]

    def record(self, models: list[dict]) -> dict:
        out = super().record(models)
        return {**out, "detector_noise": [float(v) for v in out["detector_noise"] or ()]}


@dataclass(frozen=True, kw_only=True)
class TrackingPolicyExperimentSpec(VideoExperimentSpec):
    """``exp_tracking_policies``: SAM 2 with each tracking policy (sam2's own, SAMURAI, ...) per
    SAM 2 model and first-frame prompt on DAVIS (the survey's SAM 2-based video methods).

    Attributes
    ----------
    policies : tuple of str
        Tracking policies (``workbench.backends.sam2.policies.POLICIES``), each with its
        defaults as the paper / reference code sets them. Default ``("sam2", "samurai", "sam2long")``.
    prompts : tuple of str
        First-frame prompts; default GT mask and GT box (SAMURAI's own prompt is the box).
    sequences, max_frames
        DAVIS sequences and frames per sequence (None: all; smoke 1 and 6).
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`; entries other than SAM 2 are skipped (the policies
        change how SAM 2 picks masks and memories).

    Raises
    ------
    ConfigError
        An unknown prompt (checked as :class:`VideoExperimentSpec` does).
    """

    name: str = "exp_tracking_policies"
    policies: tuple[str, ...] = ("sam2", "samurai", "sam2long")
    prompts: tuple[str, ...] = ("mask", "box")
    detector_noise: tuple[float, ...] | None = ()


@dataclass(frozen=True, kw_only=True)
class InteractiveVideoExperimentSpec(SurveyExperimentSpec):
    """``exp_interactive_video``: SAM 2's promptable video segmentation protocol (PVS, arXiv
    2408.00714 §6.1 and Appendix F.1; :mod:`workbench.protocols.pvs`) on DAVIS per video model,
    annotator mode and tracking policy: J&F after 1 .. N annotated frames and its average.

    Attributes
    ----------
    modes : tuple of str
        Annotator modes (``workbench.protocols.pvs.PVS_MODES``). Default both.
    policies : tuple of str
        Tracking policies of the SAM 2 models (``workbench.backends.sam2.policies.POLICIES``);
        other video backends run once with their own tracker. Default ``("sam2", "samurai",
        "sam2long")``.
    sequences, max_frames : optional
        DAVIS sequences and frames per sequence (None: all; smoke 1 and 3).
    max_annotated_frames : int or None
        Annotated frames per object (the paper's N_frame); None: 8 (smoke 2).
    clicks_per_frame : int
        Clicks per interaction (N_click). Default 3.
    iou_threshold : float
        Online mode: J below which the annotator corrects a frame. Default 0.75.
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`; SAM (v1) entries are skipped (no video predictor).

    Raises
    ------
    ConfigError
        An unknown mode (the message lists the valid ones).
    """

    SIZES: ClassVar[tuple[str, ...]] = ("sequences", "max_frames", "max_annotated_frames")

    name: str = "exp_interactive_video"
    modes: tuple[str, ...] = PVS_MODES
    policies: tuple[str, ...] = ("sam2", "samurai", "sam2long")
    sequences: int | tuple[str, ...] | None = None
    max_frames: int | None = None
    max_annotated_frames: int | None = None
    clicks_per_frame: int = 3
    iou_threshold: float = 0.75

    def __post_init__(self):
        bad = [m for m in self.modes if m not in PVS_MODES]
        if bad:
            raise ConfigError(f"Unknown PVS mode(s) {bad}; valid: {list(PVS_MODES)}.")
        super().__post_init__()


@dataclass(frozen=True, kw_only=True)
class RobustnessExperimentSpec(SurveyExperimentSpec):
    """``exp_robustness``: image and VOS protocols per model × corruption × severity, plus the
    clean run (severity 0) the degradation curves start from.

    Attributes
    ----------
    image_datasets : tuple of str
        Image sets of the click and box protocol. Default ``("grabcut",)``.
    corruptions : tuple of str or None
        Names of ``workbench.io.corruptions.CORRUPTIONS``; None: all (smoke ``gaussian_noise``
        and ``occluder``).
    severities : tuple of int or None
        Severities 1..5; None: 1, 3, 5 (smoke 3).
    video : bool
        Also run the VOS protocol (prompt ``vos_prompt``) on the corrupted frames. Default True.
    vos_prompt : str
        First-frame prompt of the VOS runs. Default ``"mask"``.
    subset, n_clicks : optional
        Images per set (None: all; smoke 1) and clicks per image (None: 20; smoke 5).
    sequences, max_frames : optional
        DAVIS sequences (None: all; smoke 1) and frames per sequence (None: all; smoke 6).
    models, device, smoke, seed, name
        See :class:`SurveyExperimentSpec`.

    Raises
    ------
    ConfigError
        An unknown corruption (the message lists the valid ones).
    """

    SIZES: ClassVar[tuple[str, ...]] = ("subset", "n_clicks", "sequences", "max_frames", "corruptions", "severities")

    name: str = "exp_robustness"
    image_datasets: tuple[str, ...] = ("grabcut",)
    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] | None = None
    video: bool = True
    vos_prompt: str = "mask"
    subset: int | tuple[str, ...] | None = None
    n_clicks: int | None = None
    sequences: int | tuple[str, ...] | None = None
    max_frames: int | None = None

    def __post_init__(self):
        bad = [c for c in (self.corruptions or ()) if c not in CORRUPTIONS]
        if bad:
            raise ConfigError(f"Unknown corruption(s) {bad}; valid: {list(CORRUPTIONS)}.")
        super().__post_init__()

    def record(self, models: list[dict]) -> dict:
        out = super().record(models)
        return {**out, "corruptions": list(out["corruptions"]), "severities": [int(s) for s in out["severities"]]}


# --------------------------------------------------------------------------- experiments
def _bind(spec_cls: type, models, spec, options, settings: dict, caller: str):
    """The experiment spec and options of an experiment call (see :func:`bind_settings`);
    ``models`` (the first positional argument) may also be the spec."""
    if isinstance(models, SurveyExperimentSpec) and spec is None:
        spec, models = models, None
    if models is not None:
        settings = {**settings, "models": models}
    return bind_settings(spec_cls, spec, options, settings, caller)


def _open(
    spec: SurveyExperimentSpec, options: ExecutionOptions, medical: bool = False
) -> tuple[Experiment, list[dict], dict]:
    """The experiment folder, the normalised models (default :func:`survey_models`, with
    MedSAM2 when ``medical``) and the resolved sizes."""
    chosen = spec.models if spec.models is not None else survey_models(spec.smoke, medical=medical)
    models = normalise_models(chosen, spec.smoke, spec.device)
    exp = Experiment(spec.name, spec.record(models), options, missing=missing_checkpoints())
    return exp, models, spec.sizes()


_CALL_DOC = """
    Parameters
    ----------
    models : list of dict or {spec}, optional
        The models (shortcut for ``spec.models``, see :func:`normalise_models`; default
        :func:`survey_models`), or the spec itself.
    spec : {spec}, optional
        The experiment's settings (defaults when None).
    options : ExecutionOptions, optional
        The experiment folder (``run_id`` under ``reports_root``: an existing folder is
        continued, its finished runs reused), ``executor`` (``"local"`` builds each model once
        for all its runs), ``num_workers`` and ``data_root``; ``resume`` and ``progress`` are
        not used (runs always continue, without progress bars).
    **settings
        Flat settings: names of {spec} and of ExecutionOptions (as the notebooks pass them).

    Returns
    -------
    Experiment
        Finished.

    Raises
    ------
    UnknownNameError
        An unknown setting name.
    ConfigError
        Bad models or settings (see {spec}).
"""


def image_experiment(
    models: Sequence[dict] | ImageExperimentSpec | None = None,
    spec: ImageExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """Click protocol and box prompt for every model × image set (survey Tables 2-3, §3.3);
    runs ``img-<dataset>-m<i>-<backend>-<model>…`` under ``runs/``.
    """
    spec, options = _bind(ImageExperimentSpec, models, spec, options, settings, "image_experiment")
    exp, models, sz = _open(spec, options)
    for dataset in spec.datasets:
        for i, m in enumerate(models):
            exp.image(i, m, dataset, subset=sz["subset"], max_clicks=sz["n_clicks"], seed=spec.seed)
    return exp.finish()


def medical_experiment(
    models: Sequence[dict] | MedicalExperimentSpec | None = None,
    spec: MedicalExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """Medical sets (survey Tables 4-5): the image protocol per model × 2-D set, and 3-D volumes
    segmented as slice sequences (prompt one slice, propagate both ways, 3-D Dice) per video
    model. ``volumes=0`` skips the volumes.
    """
    spec, options = _bind(MedicalExperimentSpec, models, spec, options, settings, "medical_experiment")
    exp, models, sz = _open(spec, options, medical=True)
    for dataset in spec.datasets:
        for i, m in enumerate(models):
            exp.image(i, m, dataset, subset=sz["subset"], max_clicks=sz["n_clicks"], seed=spec.seed)
    if sz["volumes"] != 0:
        for i, m in enumerate(models):
            exp.volume(
                i,
                m,
                spec.volume_prompt,
                volumes=sz["volumes"],
                max_frame_num_to_track=sz["max_frame_num_to_track"],
                seed=spec.seed,
            )
    return exp.finish()


def video_experiment(
    models: Sequence[dict] | VideoExperimentSpec | None = None,
    spec: VideoExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """Semi-supervised VOS on DAVIS per video model × first-frame prompt (survey Tables 6-7,
    §4.3: J&F, J/F recall and decay, G, FPS), then the detector-prompt study: every video model
    prompted by the ground-truth detector at each noise level and prompting mode
    (``prompt="detector"``, :mod:`workbench.protocols.detect`; compare with the ``mask`` prompt
    in :func:`workbench.runners.survey_tables.detector_noise_table`). SAM (v1) entries are
    skipped and recorded.
    """
    spec, options = _bind(VideoExperimentSpec, models, spec, options, settings, "video_experiment")
    exp, models, sz = _open(spec, options)
    for prompt in spec.prompts:
        for i, m in enumerate(models):
            exp.vos(i, m, prompt, sequences=sz["sequences"], max_frames=sz["max_frames"], seed=spec.seed)
    for detector in spec.detector_specs():
        for i, m in enumerate(models):
            exp.vos(
                i,
                m,
                DETECTOR_PROMPT,
                sequences=sz["sequences"],
                max_frames=sz["max_frames"],
                seed=spec.seed,
                detector=detector,
            )
    return exp.finish()


def robustness_experiment(
    models: Sequence[dict] | RobustnessExperimentSpec | None = None,
    spec: RobustnessExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """Image and VOS protocols under corruptions (survey §5: noise, blur, compression,
    contrast, occlusion), each model × corruption × severity, plus the clean run (severity 0)
    the degradation curves start from.
    """
    spec, options = _bind(RobustnessExperimentSpec, models, spec, options, settings, "robustness_experiment")
    exp, models, sz = _open(spec, options)
    settings_list = [(None, 0)] + [(c, int(s)) for c in sz["corruptions"] for s in sz["severities"]]
    for i, m in enumerate(models):
        for corruption, severity in settings_list:
            for dataset in spec.image_datasets:
                exp.image(
                    i,
                    m,
                    dataset,
                    subset=sz["subset"],
                    max_clicks=sz["n_clicks"],
                    seed=spec.seed,
                    corruption=corruption,
                    severity=severity,
                )
            if spec.video:
                exp.vos(
                    i,
                    m,
                    spec.vos_prompt,
                    sequences=sz["sequences"],
                    max_frames=sz["max_frames"],
                    seed=spec.seed,
                    corruption=corruption,
                    severity=severity,
                )
    return exp.finish()


def tracking_policy_experiment(
    models: Sequence[dict] | TrackingPolicyExperimentSpec | None = None,
    spec: TrackingPolicyExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """SAM 2 vs its tracking policies (SAMURAI, ...) per SAM 2 model × first-frame prompt on
    DAVIS: J&F-Mean, J/F recall and decay, FPS; non-SAM 2 entries are skipped and recorded.
    """
    spec, options = _bind(TrackingPolicyExperimentSpec, models, spec, options, settings, "tracking_policy_experiment")
    exp, models, sz = _open(spec, options)
    for i, m in enumerate(models):
        if m["backend"] != "sam2":
            entry = {"what": "tracking policies", "model": m, "reason": "tracking policies are SAM 2 policies"}
            if entry not in exp.record["skipped"]:
                exp.record["skipped"].append(entry)
            continue
        for prompt in spec.prompts:
            for policy in spec.policies:
                exp.vos(
                    i, m, prompt, sequences=sz["sequences"], max_frames=sz["max_frames"], seed=spec.seed, policy=policy
                )
    return exp.finish()


def interactive_video_experiment(
    models: Sequence[dict] | InteractiveVideoExperimentSpec | None = None,
    spec: InteractiveVideoExperimentSpec | None = None,
    options: ExecutionOptions | None = None,
    **settings,
) -> Experiment:
    """SAM 2's promptable video segmentation (PVS) on DAVIS per video model × annotator mode ×
    tracking policy: J&F after 1 .. N annotated frames (3 simulated clicks each), its average,
    frames chosen and clicks given. SAM 2 models run every policy; other video backends once
    with their own tracker; SAM (v1) entries are skipped and recorded.
    """
    spec, options = _bind(
        InteractiveVideoExperimentSpec, models, spec, options, settings, "interactive_video_experiment"
    )
    exp, models, sz = _open(spec, options)
    common = {
        "sequences": sz["sequences"],
        "max_frames": sz["max_frames"],
        "max_annotated_frames": sz["max_annotated_frames"],
        "clicks_per_frame": spec.clicks_per_frame,
        "iou_threshold": spec.iou_threshold,
        "seed": spec.seed,
    }
    for i, m in enumerate(models):
        policies = spec.policies if m["backend"] == "sam2" else ("sam2",)
        for mode in spec.modes:
            for policy in policies:
                exp.pvs(i, m, mode, policy=policy, **common)
    return exp.finish()


for _fn, _cls in (
    (image_experiment, ImageExperimentSpec),
    (interactive_video_experiment, InteractiveVideoExperimentSpec),
    (medical_experiment, MedicalExperimentSpec),
    (video_experiment, VideoExperimentSpec),
    (robustness_experiment, RobustnessExperimentSpec),
    (tracking_policy_experiment, TrackingPolicyExperimentSpec),
):
    if _fn.__doc__ is not None:  # None under python -OO
        _fn.__doc__ += _CALL_DOC.format(spec=_cls.__name__)
del _fn, _cls


# --------------------------------------------------------------------------- the suite
def survey_plan(smoke: bool = False, checkpoint_dir: str | Path | None = None) -> list[tuple[str, dict]]:
    """The experiment notebooks of ``workbench report --suite survey`` and their parameters
    (the report notebook follows them, given their folders).

    Returns
    -------
    list of (notebook name, parameters)
        One entry per :data:`SURVEY_EXPERIMENTS`; every notebook gets the same ``models``
        (:func:`survey_models`) and ``smoke``.
    """
    models = survey_models(smoke, checkpoint_dir)
    return [(name, {"models": models, "smoke": smoke}) for name in SURVEY_EXPERIMENTS]
