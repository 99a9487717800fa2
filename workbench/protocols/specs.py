"""Run specifications: what a benchmark run computes, as data.

A *run spec* is a frozen dataclass per protocol that holds every setting that determines a
run's numbers — the backend to build (:class:`BackendRequest`) and the protocol's own settings
(dataset, items, prompts, clicks, corruption, seed …). Where and how the run executes (executor,
workers, run folder, resume, progress bar, data root) is not part of it: see
:class:`workbench.runners.options.ExecutionOptions`.

========================  ===========  ==========================================================
class                     ``kind``     runner
========================  ===========  ==========================================================
:class:`ImageRunSpec`     ``"image"``  :func:`workbench.runners.run_image_benchmark` (RITM clicks)
:class:`VOSRunSpec`       ``"vos"``    :func:`workbench.runners.run_vos_benchmark` (DAVIS VOS)
:class:`VolumeRunSpec`    ``"volume"`` :func:`workbench.runners.run_volume_benchmark` (3-D volumes)
:class:`PVSRunSpec`       ``"pvs"``    :func:`workbench.runners.run_pvs_benchmark` (SAM 2's PVS)
========================  ===========  ==========================================================

Specs are checked when they are made (``__post_init__``: unknown names raise
:class:`~workbench.errors.UnknownNameError`, bad values :class:`~workbench.errors.ConfigError`,
before any data or model is loaded) and normalised: aliases become canonical names, list
settings become tuples, ``smoke=True`` fills in the smoke sizes. Making a spec again from its
own fields gives an equal spec, so a spec read back from a run card equals the one that made
the run.

A spec serialises to a JSON-able dict with :meth:`RunSpec.to_dict` (its ``kind`` included) and
back with :func:`spec_from_dict`, which looks the class up by ``kind`` in :data:`SPEC_KINDS`.
Runners store that dict in ``run_card.json`` (``spec``); resuming a run reads it back.

This module is below the runners: it imports protocols and I/O names only.
"""

from __future__ import annotations

import numbers
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, ClassVar, Self

from ..backends.detectors.spec import DetectorSpec
from ..backends.sam2.settings import SETTING_NAMES, SAM2VideoSettings, video_settings
from ..errors import ConfigError, UnknownNameError
from ..io.corruptions import CORRUPTIONS, severity_parameter
from ..io.datasets import IMAGE_SETS, SAMPLE_SET
from .clicks import MULTIMASK_MODES
from .concepts import TEXT_PROMPT
from .detect import DETECTOR_PROMPT
from .pvs import PVSSettings
from .volumes import PROMPT_SLICES, VOLUME_PROMPTS
from .vos import VOS_PROMPTS

__all__ = [
    "BACKEND_FIELDS",
    "DATASET_ALIASES",
    "OBJECT_SETS",
    "SPEC_KINDS",
    "BackendRequest",
    "DetectorSpec",
    "ImageRunSpec",
    "PVSRunSpec",
    "RunSpec",
    "VOSRunSpec",
    "VolumeRunSpec",
    "check_corruption",
    "check_policy",
    "check_video_backend",
    "corruption_params",
    "image_datasets",
    "spec_from_dict",
]

DATASET_ALIASES = {"ct_structures": "sammed2d_ct", "nuclei": "stardist_nuclei"}
"""Other names accepted for the medical object sets (value: the canonical name in run cards)."""
OBJECT_SETS = ("sammed2d_ct", "stardist_nuclei")
"""Image sources beyond :data:`~workbench.io.datasets.IMAGE_SETS` (loaded through
:mod:`workbench.io.medical`)."""
BACKEND_FIELDS = ("backend", "model", "checkpoint", "device", "image_size", "precision")
"""Fields of :class:`BackendRequest` (also accepted as flat settings by :meth:`RunSpec.from_settings`)."""


def image_datasets() -> list[str]:
    """Every ``dataset`` name :class:`ImageRunSpec` accepts (canonical names, then aliases)."""
    return [*IMAGE_SETS, *OBJECT_SETS, SAMPLE_SET, *DATASET_ALIASES]


def check_corruption(corruption: str | None, severity: int) -> tuple[str | None, int]:
    """Validate a ``corruption`` / ``severity`` pair (before any model is loaded).

    Returns
    -------
    (corruption, severity)
        As given, severity as a Python int (0 without a corruption).

    Raises
    ------
    UnknownNameError
        ``corruption`` is not one of ``workbench.io.corruptions.CORRUPTIONS``.
    ConfigError
        ``severity`` not an integer 0..5, or a severity other than 0 without a corruption.
    """
    if corruption is None:
        if severity not in (0, None):
            raise ConfigError(
                f"severity={severity!r} was given without a corruption; pass corruption= one of "
                f"{', '.join(CORRUPTIONS)} (or severity=0)."
            )
        return None, 0
    severity_parameter(corruption, severity)  # raises UnknownNameError / ConfigError
    return corruption, int(severity)


def corruption_params(corruption: str | None, severity: int) -> dict:
    """Run-card parameters of a corruption: ``{"corruption", "severity"}`` for corrupted runs,
    ``{}`` for clean ones (so clean run cards are those of earlier versions and stay resumable)."""
    return {} if corruption is None else {"corruption": corruption, "severity": int(severity)}


def _jsonable(value):
    """``value`` with tuples made lists (recursively), as ``json.loads(json.dumps(value))`` gives."""
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _int(value):
    """Integral numbers (e.g. numpy ints) as Python ints; bools, None and others unchanged."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _items(value):
    """An item selection: None, N (int) or ids (list → tuple of the same values)."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return _int(value)


def _set(obj, **values) -> None:
    """Assign normalised values to a frozen dataclass in its ``__post_init__``."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _build(cls: type, data: Mapping[str, Any]):
    """``cls(**data)`` with nested dataclass fields rebuilt from dicts.

    Raises
    ------
    UnknownNameError
        ``data`` holds a key that is not a field of ``cls``.
    """
    names = [f.name for f in fields(cls) if f.init]
    for key in data:
        if key not in names:
            raise UnknownNameError(f"{cls.__name__} field", key, names)
    hints = typing.get_type_hints(cls)
    kw = {}
    for key, value in data.items():
        kind = hints.get(key)
        if isinstance(kind, type) and is_dataclass(kind) and isinstance(value, Mapping):
            value = _build(kind, value)
        kw[key] = value
    return cls(**kw)


def check_policy(policy, policy_params) -> None:
    """Check a run spec's tracking ``policy`` (a name) and ``policy_params`` (dict or None); the
    names are checked when the backend is built.

    Raises
    ------
    ConfigError
        ``policy`` is not a non-empty string, or ``policy_params`` not a dict or None.
    """
    if not isinstance(policy, str) or not policy:
        raise ConfigError(f"policy must be a tracking-policy name such as 'sam2' or 'samurai'; got {policy!r}.")
    if policy_params is not None and not isinstance(policy_params, dict):
        raise ConfigError(
            f"policy_params must be a dict of the policy's parameters (or None); got {type(policy_params).__name__}."
        )


def check_video_backend(settings: SAM2VideoSettings, backend: str) -> None:
    """Refuse SAM 2 video settings other than sam2's own for a backend other than ``sam2`` /
    ``auto``.

    Raises
    ------
    ConfigError
        ``settings`` is not the default and ``backend`` is neither ``"sam2"`` nor ``"auto"``.
    """
    if not settings.is_default and backend not in ("sam2", "auto"):
        raise ConfigError(
            f"SAM 2 memory settings ({settings.to_dict()}) apply to the 'sam2' video backend only; "
            f"this run uses backend {backend!r}. Use backend='sam2' or leave "
            "memory_preset='official' and the overrides None."
        )


# --------------------------------------------------------------------------- backend
@dataclass(frozen=True, kw_only=True)
class BackendRequest:
    """Which backend a run builds: the arguments of :func:`workbench.backends.make_image_backend`
    and :func:`~workbench.backends.make_video_backend` (image or video backend: the run spec's
    ``backend_kind`` says which).

    Names are checked by the backend factories when a worker builds the backend.

    Attributes
    ----------
    backend : str
        Backend family: ``"classical"`` (weight-free baseline), ``"sam2"`` or ``"sam"`` (SAM v1,
        image only); see ``workbench.backends.BACKENDS``. Default ``"classical"``.
    model : str or None
        Model name within the family, e.g. ``"sam2.1_hiera_tiny"`` or ``"vit_b"``
        (``workbench.backends.registry``); None: the family's default.
    checkpoint : str or None
        Checkpoint file path; None: the model's file in ``$SAM2_CHECKPOINT_DIR``;
        ``"random"``: UNTRAINED randomly initialised weights (speed tests only).
    device : str
        Torch device string: ``"auto"`` (default: CUDA when the worker has it, else CPU),
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``; a CUDA device (or ``"auto"`` on a cluster with
        GPUs) makes Ray workers reserve a GPU. The run card records the device chosen.
    image_size : int or None
        Model input size in pixels (the longer side images are resized to); default 1024; None:
        the size the model was trained at (MedSAM2 512, SAM 3 1008; see
        :attr:`workbench.backends.registry.ModelSpec.image_size`).
    precision : str
        ``"auto"`` (default: bf16 autocast on CUDA GPUs that support it, fp32 otherwise, as
        SAM 2's notebooks run), ``"fp32"`` or ``"bf16"`` (CUDA only). Ignored by classical.
    """

    backend: str = "classical"
    model: str | None = None
    checkpoint: str | None = None
    device: str = "auto"
    image_size: int | None = 1024
    precision: str = "auto"

    def __post_init__(self):
        _set(self, image_size=_int(self.image_size))


# --------------------------------------------------------------------------- run specs
@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Base class of the run specifications (see the module docstring).

    Attributes
    ----------
    backend_request : BackendRequest
        The backend every worker builds.
    seed : int
        Run seed (stored in the run card ``seed``); seeds the corruptions of robustness runs
        (``workbench.runners.items.corruption_seed``). The click and VOS protocols themselves
        are deterministic. Default 0.
    dataset : str
        The data set run over (stored in the run card ``dataset``); every kind of spec sets
        its own default and checks.

    Class attributes: ``kind`` (``"image"``, ``"vos"``, ``"volume"``, ``"pvs"``: run card ``kind`` and
    :data:`SPEC_KINDS` key), ``backend_kind`` (``"image"`` or ``"video"``: which backend factory
    builds ``backend_request``) and ``NOT_PARAMS`` (fields left out of :meth:`params`).
    """

    kind: ClassVar[str] = ""
    backend_kind: ClassVar[str] = "image"
    NOT_PARAMS: ClassVar[tuple[str, ...]] = ("backend_request", "dataset", "seed")

    backend_request: BackendRequest = field(default_factory=BackendRequest)
    seed: int = 0
    dataset: str = ""  # redefined, first of their fields, by every subclass: the field order is unchanged

    def __post_init__(self):
        request = self.backend_request
        if isinstance(request, Mapping):
            request = _build(BackendRequest, request)
        if not isinstance(request, BackendRequest):
            raise ConfigError(
                f"backend_request must be a BackendRequest (or a dict of its fields {list(BACKEND_FIELDS)}), "
                f"got {type(request).__name__}."
            )
        _set(self, backend_request=request, seed=_int(self.seed))

    # -- settings
    @classmethod
    def setting_names(cls) -> list[str]:
        """Names :meth:`from_settings` accepts: the spec's fields and the
        :class:`BackendRequest` fields (:data:`BACKEND_FIELDS`) as flat names."""
        return [*BACKEND_FIELDS, *(f.name for f in fields(cls) if f.init)]

    @classmethod
    def from_settings(cls, base: Self | None = None, **settings) -> Self:
        """A spec from flat settings, e.g. ``ImageRunSpec.from_settings(backend="sam2",
        dataset="grabcut", max_clicks=5)``: the :data:`BACKEND_FIELDS` go into
        ``backend_request``, the others are fields of the spec.

        Parameters
        ----------
        base : RunSpec, optional
            Start from this spec (of this class) and replace the settings given; default the
            class's defaults.
        **settings
            Any of :meth:`setting_names`.

        Raises
        ------
        UnknownNameError
            A setting is not one of :meth:`setting_names` (the message lists them).
        ConfigError
            ``base`` is not a spec of this class; any error of the spec's checks.
        """
        if base is not None and not isinstance(base, cls):
            raise ConfigError(f"base must be a {cls.__name__}, got {type(base).__name__}.")
        names = cls.setting_names()
        for key in settings:
            if key not in names:
                raise UnknownNameError(f"{cls.__name__} setting", key, names)
        request = settings.pop("backend_request", None)
        if request is None:
            request = base.backend_request if base is not None else BackendRequest()
        elif isinstance(request, Mapping):
            request = _build(BackendRequest, request)
        flat = {k: settings.pop(k) for k in BACKEND_FIELDS if k in settings}
        if flat:
            request = replace(request, **flat)
        if base is None:
            return cls(backend_request=request, **settings)
        return replace(base, backend_request=request, **settings)

    # -- data
    def to_dict(self) -> dict:
        """The spec as a JSON-able dict: ``kind`` plus every field (``backend_request`` as a
        dict, tuples as lists). :func:`spec_from_dict` makes an equal spec from it."""
        return _jsonable({"kind": self.kind, **asdict(self)})

    def params(self) -> dict:
        """The protocol settings stored in the run card ``params`` (JSON-able): every field
        except :attr:`NOT_PARAMS` (``backend_request``, ``dataset`` and ``seed`` have their own
        card fields), plus ``corruption`` / ``severity`` for corrupted runs."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self.NOT_PARAMS}
        out.update(corruption_params(getattr(self, "corruption", None), getattr(self, "severity", 0)))
        return _jsonable(out)

    def backend_settings(self) -> dict:
        """Keyword settings of the backend factory that come from the protocol's spec (none by
        default; a VOS run's tracking policy, for instance)."""
        return {}

    @property
    def tag(self) -> str:
        """Run-id suffix of corrupted runs: ``"-<corruption><severity>"``; ``""`` for clean runs."""
        corruption = getattr(self, "corruption", None)
        return "" if corruption is None else f"-{corruption}{getattr(self, 'severity', 0)}"


@dataclass(frozen=True, kw_only=True)
class ImageRunSpec(RunSpec):
    """The RITM click protocol (and a ground-truth box prompt) over an image set.

    Run by :func:`workbench.runners.run_image_benchmark`; items run as
    :class:`workbench.runners.items.ImageTask`.

    Attributes
    ----------
    backend_request : BackendRequest
        The image backend (:func:`workbench.backends.make_image_backend`).
    seed : int
        Run seed; an image's corruption seed is ``corruption_seed(seed, item_id)``.
    dataset : str
        Image source, one of :func:`image_datasets`: an image set of
        ``workbench.io.datasets.IMAGE_SETS`` (``grabcut``, ``coco_mval``, ``davis345``, the 2-D
        medical sets), ``"samples"`` (images shipped by installed packages), or a medical object
        set ``sammed2d_ct`` / ``stardist_nuclei``. The aliases ``ct_structures`` and ``nuclei``
        are replaced by the canonical name. Default ``"grabcut"``.
    subset : int, tuple of str or None
        First N images, or explicit item ids (a list is stored as a tuple; CT:
        ``"<slice>/<structure>_<k>"``, nuclei: ``"<image>/<id:04d>"``); None: every image
        (5 with ``smoke``).
    max_clicks : int
        Simulated clicks per image (NoC is capped at this; RITM uses 20). At most 5 with
        ``smoke``. Default 20.
    multimask : {"first", "always", "never"}
        When the backend is asked for 3 candidate masks (see
        :func:`workbench.protocols.clicks.run_click_protocol`). Default ``"first"``.
    box_prompt : bool
        Also score one prompt with the ground-truth bounding box (XYXY pixels). Default True.
    text_prompt : str or None
        Also score one text concept prompt (the ``text`` prompt kind; backends with
        :class:`~workbench.backends.base.ConceptPrompts`, i.e. SAM 3): the phrase, e.g.
        ``"dog"``. Every image then gets ``text-IoU`` (the highest-scoring instance against the
        ground truth, 0 when none is found), ``text-best-IoU`` (the best-matching instance) and
        ``text-instances``; the run card's ``params`` record the phrase and threshold. None: no
        text prompt (default).
    text_threshold : float
        Smallest detection score of a kept instance, in [0, 1]. Default 0.5.
    stop_at_iou : float or None
        Stop clicking an image once its IoU (0..1) reaches this (later IoUs carried forward);
        None: always ``max_clicks`` clicks.
    save_masks : bool
        Write the mask after ``overlay_clicks`` clicks to ``masks/<item>.png`` in the run folder.
    overlay_clicks : int
        Number of clicks after which the saved mask is taken. Default 5.
    smoke : bool
        Quick run: ``subset`` 5 when not given and ``max_clicks`` at most 5 (applied when the
        spec is made; the stored spec holds the resulting sizes).
    corruption : str or None
        Robustness runs: one of ``workbench.io.corruptions.CORRUPTIONS`` (``gaussian_noise``,
        ``gaussian_blur``, ``jpeg``, ``low_contrast``, ``occluder``) applied to every image
        before the backend sees it (ground truth and click targets unchanged); None: clean.
    severity : int
        Corruption severity 1..5 (ImageNet-C style levels); 0 with a corruption is the
        identity; must be 0 without one.

    Raises
    ------
    UnknownNameError
        Unknown ``dataset`` (the message lists :func:`image_datasets`), ``multimask`` mode or
        ``corruption``.
    ConfigError
        ``severity`` not an integer 0..5, or given without a corruption; an empty
        ``text_prompt`` or a ``text_threshold`` outside [0, 1].
    """

    kind: ClassVar[str] = "image"
    backend_kind: ClassVar[str] = "image"
    NOT_PARAMS: ClassVar[tuple[str, ...]] = ("backend_request", "dataset", "seed", "corruption", "severity")

    dataset: str = "grabcut"
    subset: int | tuple[str, ...] | None = None
    max_clicks: int = 20
    multimask: str = "first"
    box_prompt: bool = True
    text_prompt: str | None = None
    text_threshold: float = 0.5
    stop_at_iou: float | None = None
    save_masks: bool = False
    overlay_clicks: int = 5
    smoke: bool = False
    corruption: str | None = None
    severity: int = 0

    def __post_init__(self):
        super().__post_init__()
        corruption, severity = check_corruption(self.corruption, self.severity)
        if self.text_prompt is not None and (not isinstance(self.text_prompt, str) or not self.text_prompt.strip()):
            raise ConfigError(
                f"text_prompt must be a non-empty noun phrase such as 'dog', or None; got {self.text_prompt!r}."
            )
        if not 0.0 <= float(self.text_threshold) <= 1.0:
            raise ConfigError(f"text_threshold must lie in [0, 1] (a detection score); got {self.text_threshold!r}.")
        subset, max_clicks = _items(self.subset), _int(self.max_clicks)
        if self.smoke:
            subset = 5 if subset is None else subset
            max_clicks = min(max_clicks, 5)
        dataset = DATASET_ALIASES.get(self.dataset, self.dataset)
        if dataset not in IMAGE_SETS and dataset not in OBJECT_SETS and dataset != SAMPLE_SET:
            raise UnknownNameError("image dataset", self.dataset, image_datasets())
        if self.multimask not in MULTIMASK_MODES:
            raise UnknownNameError("multimask mode", self.multimask, MULTIMASK_MODES)
        _set(
            self,
            corruption=corruption,
            severity=severity,
            subset=subset,
            max_clicks=max_clicks,
            dataset=dataset,
            overlay_clicks=_int(self.overlay_clicks),
            text_prompt=None if self.text_prompt is None else self.text_prompt.strip(),
            text_threshold=float(self.text_threshold),
        )

    def params(self) -> dict:
        """Run-card parameters; the concept-prompt fields only for text-prompted runs, so the
        cards of click and box runs stay as they were."""
        out = super().params()
        if self.text_prompt is None:
            out.pop("text_prompt", None)
            out.pop("text_threshold", None)
        return out


@dataclass(frozen=True, kw_only=True)
class VOSRunSpec(RunSpec):
    """Semi-supervised video object segmentation over DAVIS-format sequences.

    Run by :func:`workbench.runners.run_vos_benchmark`; sequences run as
    :class:`workbench.runners.items.VOSTask`.

    Attributes
    ----------
    backend_request : BackendRequest
        The video backend (:func:`workbench.backends.make_video_backend`; SAM v1 has none).
    seed : int
        Run seed; a sequence's corruption seed is ``corruption_seed(seed, sequence)``.
    dataset : {"davis"}
        Dataset layout (DAVIS-format folders; DAVIS 2016/2017 or any data in that layout,
        found under the data root). Default ``"davis"``.
    sequences : int, tuple of str or None
        First N sequences of ``ImageSets/val.txt``, or sequence names (a list is stored as a
        tuple); None: all (2 with ``smoke``).
    max_frames : int or None
        Use only the first N frames of each sequence; None: all (8 with ``smoke``).
    prompt : str
        First-frame prompt made from the ground truth, one of
        ``workbench.protocols.vos.VOS_PROMPTS`` (``mask``, ``box``, ``clicks1``, ``clicks3``,
        ``clicks5``); ``"clicks"`` is replaced by ``"clicks<n_clicks>"``. Default ``"mask"``.
        ``"detector"``: no annotation prompts; a detector's boxes do, as ``detector`` says
        (:mod:`workbench.protocols.detect`: per-frame boxes as YOLO-SAM2, or detect-then-track
        as Det-SAM2; objects matched to the annotations before scoring). ``"text"``: no
        annotation prompts; the noun phrase ``text_prompt`` does (SAM 3 concept tracking,
        :mod:`workbench.protocols.concepts`; instances matched to the annotations before
        scoring); needs a backend with text concept prompts.
    n_clicks : int
        Clicks per object of a ``clicks`` prompt (1, 3 or 5); set from the prompt name for
        ``clicks<k>`` prompts. Not stored in the run card ``params`` (the prompt holds it).
    save_masks : bool
        Also write predicted palette PNGs under ``masks/<sequence>/`` in the run folder.
    smoke : bool
        Quick run: ``sequences`` 2 and ``max_frames`` 8 when not given (applied when the spec
        is made).
    corruption : str or None
        Robustness runs: one of ``workbench.io.corruptions.CORRUPTIONS`` applied to every frame
        (``corrupt_frames``: fresh noise per frame, a moving occluder) before the backend sees
        it; the first-frame prompt still comes from the clean ground truth. None: clean.
    severity : int
        Corruption severity 1..5; 0 with a corruption is the identity; must be 0 without one.
    policy : str
        SAM 2 tracking policy (``workbench.backends.sam2.policies.POLICIES``): ``"sam2"``
        (default: sam2's own), ``"samurai"`` (arXiv 2411.11922), ... Other backends accept only
        ``"sam2"``. Checked when the backend is built (before any item runs).
    policy_params : dict or None
        The policy's parameters by the names of its paper / reference code, e.g.
        ``{"stable_frames_threshold": 10}``; None: its defaults. The backend records every
        value (defaults included) in the run card's ``backend_extra``.
    memory_preset : {"official", "interactive"}
        SAM 2 memory/runtime settings preset of the video backend
        (:mod:`workbench.backends.sam2.settings`): ``"official"`` (default) keeps the
        checkpoint config's values, ``"interactive"`` makes refinement clicks conditioning
        frames. Only the ``sam2`` backend takes anything but the default.
    max_cond_frames_in_attn : int or None
        Override of the preset (-1: all conditioning frames); None: the preset's value.
    add_all_frames_to_correct_as_cond, clear_non_cond_mem_around_input : bool or None
        Overrides of the preset; None: the preset's value.
    non_overlap_masks : bool or None
        Override: SAM 2's non-overlap constraint on the output logits (``tools/vos_inference.py``
        sets True for DAVIS PNGs, False for one PNG per object).
    apply_postprocessing : bool or None
        Override of sam2's builder flag (True as built by default; ``tools/vos_inference.py``
        runs with False).
    track_objects_appearing_later : bool
        Track every object of the annotations, each one separately from the first frame it
        appears on (``tools/vos_inference.py --track_object_appearing_later_in_video``); the
        objects of frame 0 tracked together when False (default). See
        :mod:`workbench.protocols.vos`.
    per_object_png : bool
        Save masks as one PNG folder per object, ``masks/<seq>/<obj_id:03d>/<frame>.png`` with
        values 0/1 (the SA-V layout, ``--per_obj_png_file``; objects may overlap), and score
        every object's own mask; default False: one DAVIS id map per frame,
        ``masks/<seq>/<frame>.png``. Writes masks only with ``save_masks``.
    detector : DetectorSpec, dict or None
        The detector and prompting mode of ``prompt="detector"``
        (:class:`workbench.backends.detectors.DetectorSpec`: kind ``gt`` / ``torchvision`` /
        ``ultralytics``, weights, score threshold, the ground-truth detector's jitter / miss
        rate / false positives and seed, ``mode``, ``detect_interval``, ``iou_threshold``); a
        dict of its fields is converted. None with that prompt: ``DetectorSpec()`` (the
        ground-truth detector without noise, detect-then-track); must be None with other
        prompts. Stored in the run card ``params`` (and the card's ``detector``) only for
        detector runs.
    text_prompt : str or None
        The noun phrase of ``prompt="text"``, e.g. ``"swan"`` (required with that prompt, None
        with the others). Stored in the run card ``params`` only for text runs.

    The seven settings above are stored in the run card ``params`` only when they differ from
    their defaults, so cards of earlier runs still match (and resume).

    Raises
    ------
    UnknownNameError
        ``dataset`` other than ``"davis"``, unknown ``prompt``, ``corruption`` or
        ``memory_preset``.
    ConfigError
        ``severity`` not an integer 0..5, or given without a corruption; a bad video setting,
        or one other than the default for a backend other than ``sam2`` / ``auto``; a
        ``detector`` without ``prompt="detector"``, or that prompt with
        ``track_objects_appearing_later`` or ``per_object_png``; ``prompt="text"`` without a
        ``text_prompt`` (or with those two modes), a ``text_prompt`` with another prompt.
    """

    kind: ClassVar[str] = "vos"
    backend_kind: ClassVar[str] = "video"
    VIDEO_FIELDS: ClassVar[tuple[str, ...]] = ("memory_preset", *SETTING_NAMES)
    MODE_FIELDS: ClassVar[tuple[str, ...]] = ("track_objects_appearing_later", "per_object_png")
    NOT_PARAMS: ClassVar[tuple[str, ...]] = (
        "backend_request",
        "dataset",
        "seed",
        "n_clicks",
        "corruption",
        "severity",
        *VIDEO_FIELDS,
        *MODE_FIELDS,
        "detector",
        "text_prompt",
    )

    dataset: str = "davis"
    sequences: int | tuple[str, ...] | None = None
    max_frames: int | None = None
    prompt: str = "mask"
    n_clicks: int = 1
    save_masks: bool = False
    smoke: bool = False
    corruption: str | None = None
    severity: int = 0
    memory_preset: str = "official"
    max_cond_frames_in_attn: int | None = None
    add_all_frames_to_correct_as_cond: bool | None = None
    clear_non_cond_mem_around_input: bool | None = None
    non_overlap_masks: bool | None = None
    apply_postprocessing: bool | None = None
    track_objects_appearing_later: bool = False
    per_object_png: bool = False
    policy: str = "sam2"
    policy_params: dict | None = None
    detector: DetectorSpec | None = None
    text_prompt: str | None = None

    def __post_init__(self):
        super().__post_init__()
        check_policy(self.policy, self.policy_params)
        settings = self.video_settings  # raises on unknown presets and bad values
        check_video_backend(settings, self.backend_request.backend)
        for name in self.MODE_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; got {getattr(self, name)!r}.")
        _set(self, max_cond_frames_in_attn=settings.max_cond_frames_in_attn)
        corruption, severity = check_corruption(self.corruption, self.severity)
        prompt, n_clicks = self.prompt, _int(self.n_clicks)
        if prompt == "clicks":
            prompt = f"clicks{n_clicks}"
        sequences, max_frames = _items(self.sequences), _int(self.max_frames)
        if self.smoke:
            sequences = 2 if sequences is None else sequences
            max_frames = 8 if max_frames is None else max_frames
        if self.dataset != "davis":
            raise UnknownNameError("video dataset layout", self.dataset, ["davis"])
        if prompt not in (*VOS_PROMPTS, DETECTOR_PROMPT, TEXT_PROMPT):
            raise UnknownNameError("VOS prompt", prompt, [*VOS_PROMPTS, DETECTOR_PROMPT, TEXT_PROMPT])
        if prompt.startswith("clicks"):
            n_clicks = int(prompt.removeprefix("clicks"))
        detector = DetectorSpec.from_value(self.detector)
        text = self.text_prompt
        if prompt in (DETECTOR_PROMPT, TEXT_PROMPT):
            bad = [k for k in self.MODE_FIELDS if getattr(self, k)]
            if bad:
                raise ConfigError(
                    f"prompt={prompt!r} makes its own objects; {', '.join(bad)} apply to "
                    "annotation prompts only. Leave them False."
                )
        if prompt == TEXT_PROMPT:
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(
                    f"prompt='text' needs text_prompt, a non-empty noun phrase such as 'swan'; got {text!r}."
                )
            text = text.strip()
        elif text is not None:
            raise ConfigError(
                f"text_prompt= is the phrase of prompt='text'; this run prompts with {prompt!r}. "
                "Set prompt='text' or leave text_prompt=None."
            )
        if prompt == DETECTOR_PROMPT:
            detector = DetectorSpec() if detector is None else detector
        elif detector is not None:
            raise ConfigError(
                f"detector= is the detector of prompt='detector'; this run prompts with {prompt!r}. "
                "Set prompt='detector' or leave detector=None."
            )
        _set(
            self,
            detector=detector,
            text_prompt=text,
            corruption=corruption,
            severity=severity,
            prompt=prompt,
            n_clicks=n_clicks,
            sequences=sequences,
            max_frames=max_frames,
        )

    @property
    def video_settings(self) -> SAM2VideoSettings:
        """The SAM 2 video settings of this run (preset and overrides)."""
        return video_settings(self.memory_preset, **{k: getattr(self, k) for k in SETTING_NAMES})

    def params(self) -> dict:
        """As :meth:`RunSpec.params`, plus the video settings and output modes that differ from
        their defaults (absent at their defaults, as in cards written before they existed)."""
        out = super().params()
        if self.memory_preset != "official":
            out["memory_preset"] = self.memory_preset
        out.update({k: getattr(self, k) for k in SETTING_NAMES if getattr(self, k) is not None})
        out.update({k: True for k in self.MODE_FIELDS if getattr(self, k)})
        if self.detector is not None:
            out["detector"] = self.detector.to_dict()
        if self.text_prompt is not None:
            out["text_prompt"] = self.text_prompt
        if not self.backend_settings():  # the policy only when not sam2's own with its defaults
            out.pop("policy", None)
            out.pop("policy_params", None)
        return _jsonable(out)

    def backend_settings(self) -> dict:
        """``policy`` / ``policy_params`` for the video backend factory (empty for sam2's own
        policy with its defaults, so every backend builds as before)."""
        if self.policy == "sam2" and not self.policy_params:
            return {}
        return {"policy": self.policy, "policy_params": dict(self.policy_params or {})}


@dataclass(frozen=True, kw_only=True)
class VolumeRunSpec(RunSpec):
    """3-D volumes segmented as slice sequences by a video backend (prompt one slice from its
    ground truth, propagate both ways, score in 3-D).

    Run by :func:`workbench.runners.run_volume_benchmark`; volumes run as
    :class:`workbench.runners.volume_runner.VolumeTask`.

    Attributes
    ----------
    backend_request : BackendRequest
        The video backend (:func:`workbench.backends.make_video_backend`; SAM v1 has none).
    seed : int
        Run seed (stored in the run card; the volume protocol is deterministic).
    dataset : {"mri_volumes"}
        The volume set, ``medical/mri_volumes`` under the data root
        (:func:`workbench.io.medical.load_volumes`). Default ``"mri_volumes"``.
    volumes : int, tuple of str or None
        First N volumes (sorted by id), or volume ids (a list is stored as a tuple); None: all
        (1 with ``smoke``).
    prompt : str
        Prompt on the prompt slice, made from its ground truth, one of
        ``workbench.protocols.volumes.VOLUME_PROMPTS`` (``mask``, ``box``, ``clicks1``,
        ``clicks3``, ``clicks5``). Default ``"mask"``.
    prompt_slice : str or int
        ``"largest"`` (largest ground-truth area), ``"middle"`` (middle of the slices holding
        the object) or a slice index (0-based). Default ``"largest"``.
    max_frame_num_to_track : int or None
        Most slices tracked on EACH side of the prompt slice (SAM 2's parameter); slices beyond
        stay empty and are scored as such. None: the whole volume (3 with ``smoke``).
    window : (float, float) or None
        Intensity window (lo, hi) in the volume's units (e.g. Hounsfield units for CT) used to
        make 8-bit frames; None: the 0.5 and 99.5 percentiles of each volume.
    save_masks : bool
        Write the predicted slices to ``masks/<id>/%05d.png`` in the run folder.
    smoke : bool
        Quick run: ``volumes`` 1 and ``max_frame_num_to_track`` 3 when not given (applied when
        the spec is made).

    Raises
    ------
    UnknownNameError
        Unknown ``prompt``, ``prompt_slice`` name or ``dataset``.
    ConfigError
        ``window`` is not two numbers.
    """

    kind: ClassVar[str] = "volume"
    backend_kind: ClassVar[str] = "video"

    dataset: str = "mri_volumes"
    volumes: int | tuple[str, ...] | None = None
    prompt: str = "mask"
    prompt_slice: str | int = "largest"
    max_frame_num_to_track: int | None = None
    window: tuple[float, float] | None = None
    save_masks: bool = False
    smoke: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.prompt not in VOLUME_PROMPTS:
            raise UnknownNameError("volume prompt", self.prompt, VOLUME_PROMPTS)
        if isinstance(self.prompt_slice, str) and self.prompt_slice not in PROMPT_SLICES:
            raise UnknownNameError("prompt slice", self.prompt_slice, [*PROMPT_SLICES, "<slice index>"])
        volumes, track = _items(self.volumes), _int(self.max_frame_num_to_track)
        if self.smoke:
            volumes = 1 if volumes is None else volumes
            track = 3 if track is None else track
        if self.dataset != "mri_volumes":
            raise UnknownNameError("volume dataset", self.dataset, ["mri_volumes"])
        window = self.window
        if window is not None:
            try:
                values = tuple(float(v) for v in window)
            except (TypeError, ValueError):
                values = ()
            if len(values) != 2:
                raise ConfigError(f"window must be two numbers (lo, hi) in the volume's units, got {self.window!r}.")
            window = (values[0], values[1])
        _set(self, volumes=volumes, max_frame_num_to_track=track, window=window, prompt_slice=_int(self.prompt_slice))


@dataclass(frozen=True, kw_only=True)
class PVSRunSpec(RunSpec):
    """Promptable video segmentation (the SAM 2 paper's interactive protocol, offline or online)
    over DAVIS-format sequences.

    Run by :func:`workbench.runners.run_pvs_benchmark`; sequences run as
    :class:`workbench.runners.pvs_runner.PVSTask`. The protocol and every choice it makes are
    described in :mod:`workbench.protocols.pvs`.

    Attributes
    ----------
    backend_request : BackendRequest
        The video backend (:func:`workbench.backends.make_video_backend`; SAM v1 has none).
    seed : int
        Run seed (stored in the run card; the protocol is deterministic).
    dataset : {"davis"}
        Dataset layout (DAVIS-format folders under the data root). Default ``"davis"``.
    sequences : int, tuple of str or None
        First N sequences of ``ImageSets/val.txt``, or names; None: all (2 with ``smoke``).
    max_frames : int or None
        Use only the first N frames of each sequence; None: all (8 with ``smoke``).
    mode : {"offline", "online"}
        Offline: several passes, each correcting the not yet annotated frame with the lowest J;
        online: one forward pass stopping at frames whose J is below ``iou_threshold``.
        Default ``"offline"``.
    max_annotated_frames : int or None
        Most annotated frames per object (the paper's N_frame; the curve's length); None: 8
        (3 with ``smoke``).
    clicks_per_frame : int
        Clicks of the simulated user per interaction (N_click). Default 3.
    iou_threshold : float
        Online mode: J below which the annotator stops and corrects a frame. Default 0.75.
    skip_first_last : bool
        Score without the first and last frame as the semi-supervised evaluations do; default
        False: every frame (:mod:`workbench.protocols.pvs` says why).
    save_masks : bool
        Write every object's final prediction as ``masks/<seq>/<obj_id:03d>/%05d.png`` (0/1,
        the per-object layout ``workbench eval vos --layout per-object`` reads).
    smoke : bool
        Quick run: ``sequences`` 2, ``max_frames`` 8 and ``max_annotated_frames`` 3 when not
        given (applied when the spec is made).
    memory_preset : {"official", "interactive"} or None
        SAM 2 memory preset (:mod:`workbench.backends.sam2.settings`); None: ``"interactive"``
        for the ``sam2`` backend (a correction click on a tracked frame must become a
        conditioning frame, or the next propagation overwrites it), ``"official"`` (sam2's own
        settings, the only ones other backends take) otherwise. Name it explicitly with
        ``backend="auto"``.
    max_cond_frames_in_attn, add_all_frames_to_correct_as_cond, clear_non_cond_mem_around_input, non_overlap_masks, apply_postprocessing
        Overrides of the preset, as :class:`VOSRunSpec` has them (None: the preset's value).
    policy : str
        SAM 2 tracking policy (``"sam2"``, ``"samurai"``, ``"sam2long"``; see
        :class:`VOSRunSpec`). Other backends accept only ``"sam2"``.
    policy_params : dict or None
        The policy's parameters by the names of its paper; None: its defaults.

    Raises
    ------
    UnknownNameError
        ``dataset`` other than ``"davis"``, unknown ``mode`` or ``memory_preset``.
    ConfigError
        Annotated frames or clicks below 1, ``iou_threshold`` outside [0, 1], a bad video
        setting or one other than the default for a backend other than ``sam2`` / ``auto``.
    """

    kind: ClassVar[str] = "pvs"
    backend_kind: ClassVar[str] = "video"
    VIDEO_FIELDS: ClassVar[tuple[str, ...]] = ("memory_preset", *SETTING_NAMES)

    dataset: str = "davis"
    sequences: int | tuple[str, ...] | None = None
    max_frames: int | None = None
    mode: str = "offline"
    max_annotated_frames: int | None = None
    clicks_per_frame: int = 3
    iou_threshold: float = 0.75
    skip_first_last: bool = False
    save_masks: bool = False
    smoke: bool = False
    memory_preset: str | None = None
    max_cond_frames_in_attn: int | None = None
    add_all_frames_to_correct_as_cond: bool | None = None
    clear_non_cond_mem_around_input: bool | None = None
    non_overlap_masks: bool | None = None
    apply_postprocessing: bool | None = None
    policy: str = "sam2"
    policy_params: dict | None = None

    def __post_init__(self):
        super().__post_init__()
        check_policy(self.policy, self.policy_params)
        if self.memory_preset is None:
            preset = "interactive" if self.backend_request.backend == "sam2" else "official"
            _set(self, memory_preset=preset)
        settings = self.video_settings  # raises on unknown presets and bad values
        check_video_backend(settings, self.backend_request.backend)
        if self.dataset != "davis":
            raise UnknownNameError("video dataset layout", self.dataset, ["davis"])
        sequences, max_frames = _items(self.sequences), _int(self.max_frames)
        annotated = _int(self.max_annotated_frames)
        if self.smoke:
            sequences = 2 if sequences is None else sequences
            max_frames = 8 if max_frames is None else max_frames
            annotated = 3 if annotated is None else annotated
        _set(
            self,
            sequences=sequences,
            max_frames=max_frames,
            max_annotated_frames=8 if annotated is None else annotated,
            max_cond_frames_in_attn=settings.max_cond_frames_in_attn,
        )
        pvs = self.pvs_settings  # raises on a bad mode, count or threshold
        _set(self, clicks_per_frame=pvs.clicks_per_frame, iou_threshold=pvs.iou_threshold)

    @property
    def pvs_settings(self) -> PVSSettings:
        """The protocol parameters of this run (:class:`~workbench.protocols.pvs.PVSSettings`)."""
        return PVSSettings(
            mode=self.mode,
            max_annotated_frames=self.max_annotated_frames if self.max_annotated_frames is not None else 8,
            clicks_per_frame=self.clicks_per_frame,
            iou_threshold=self.iou_threshold,
            skip_first_last=self.skip_first_last,
        )

    @property
    def video_settings(self) -> SAM2VideoSettings:
        """The SAM 2 video settings of this run (preset and overrides)."""
        return video_settings(self.memory_preset, **{k: getattr(self, k) for k in SETTING_NAMES})

    def backend_settings(self) -> dict:
        """``policy`` / ``policy_params`` for the video backend factory (empty for sam2's own
        policy with its defaults)."""
        if self.policy == "sam2" and not self.policy_params:
            return {}
        return {"policy": self.policy, "policy_params": dict(self.policy_params or {})}


SPEC_KINDS: dict[str, type[RunSpec]] = {cls.kind: cls for cls in (ImageRunSpec, VOSRunSpec, VolumeRunSpec, PVSRunSpec)}
"""Run spec class by ``kind`` (the run card ``kind``)."""


def spec_from_dict(data: Mapping[str, Any]) -> RunSpec:
    """The run spec of a :meth:`RunSpec.to_dict` dict (e.g. a run card's ``spec``).

    Parameters
    ----------
    data : mapping
        ``kind`` (a key of :data:`SPEC_KINDS`) and the spec's fields (missing ones take their
        defaults; ``backend_request`` as a dict).

    Raises
    ------
    ConfigError
        ``data`` is not a mapping with a ``kind``; any error of the spec's checks.
    UnknownNameError
        Unknown ``kind`` or field name.
    """
    if not isinstance(data, Mapping) or "kind" not in data:
        raise ConfigError(f"A run spec dict needs a 'kind' (one of {sorted(SPEC_KINDS)}); got {data!r}.")
    kind = data["kind"]
    if kind not in SPEC_KINDS:
        raise UnknownNameError("run spec kind", kind, SPEC_KINDS)
    return _build(SPEC_KINDS[kind], {k: v for k, v in data.items() if k != "kind"})
