"""The survey suite: SAM vs SAM 2 vs a weight-free baseline, as in Zhang & Tang's survey.

Reproduces the comparisons of "SAM2 for Image and Video Segmentation: A Comprehensive Survey"
(J. Zhang, H. Tang, arXiv 2503.12781, 2025): image metrics of §3.3 (IoU, Dice, mIoU, pixel
accuracy) on natural and medical sets, video metrics of §4.3 (J, F, J&F, the survey's G as
global pixel accuracy, FPS), and the weak points of §5 (domain shift to medical images, speed,
robustness to noise and occlusion).

Four experiment notebooks each write one *experiment folder* ``<reports_root>/<run_id>/``
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
                          (mask, box, 1/3/5 clicks)
exp_robustness            image and VOS protocols per model × corruption × severity, plus the
                          clean run (severity 0)
========================  ======================================================================

Models (:func:`survey_models`): the classical baseline always; every SAM 2 and SAM (v1)
checkpoint present in ``$SAM2_CHECKPOINT_DIR``; in smoke mode only the smallest present one
per family, or, when none is present, an UNTRAINED one (``checkpoint="random"``, 256 px): such
runs test the plumbing and speed only, and every table marks them "(UNTRAINED)".
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..backends import BACKENDS
from ..backends.registry import available_models, get_spec, list_specs
from ..config import checkpoint_dir as default_checkpoint_dir
from ..errors import ConfigError
from ..io.corruptions import CORRUPTIONS
from ..protocols.vos import VOS_PROMPTS
from .executors import Executor
from .experiments import EXPERIMENT_FILE, Experiment, experiment_runs, find_experiments, read_experiment

SURVEY_EXPERIMENTS = ("exp_image_sam_vs_sam2", "exp_medical", "exp_video_prompts", "exp_robustness")
"""Experiment notebooks of the survey suite, in run order."""
REPORT_NOTEBOOK = "survey_report"
NATURAL_SETS = ("grabcut", "coco_mval", "davis345")
MEDICAL_SETS = ("hc18_ultrasound", "ph2_dermoscopy", "drive_retina", "kvasir_polyp", "cxr_lungs", "sammed2d_ct",
                "stardist_nuclei", "pyradiomics_mri")
"""2-D medical sets (canonical names, see ``workbench.io.medical.MODALITIES``)."""
UNTRAINED_IMAGE_SIZE = 256
"""Input size of the UNTRAINED models of smoke runs (pixels)."""
SMOKE = {"subset": 2, "n_clicks": 5, "sequences": 1, "max_frames": 6, "volumes": 1, "max_frame_num_to_track": 3,
         "corruptions": ("gaussian_noise", "occluder"), "severities": (3,)}
"""Sizes of a smoke run (minutes on 2 CPU cores); :data:`SMOKE_SUBSETS` overrides ``subset``."""
SMOKE_SUBSETS = {"exp_medical": 1, "exp_robustness": 1}
"""Items per image set in smoke runs of the experiments with many sets or settings."""
FULL = {"subset": None, "n_clicks": 20, "sequences": None, "max_frames": None, "volumes": None,
        "max_frame_num_to_track": None, "corruptions": CORRUPTIONS, "severities": (1, 3, 5)}
"""Sizes of a full run (every item)."""

__all__ = ["EXPERIMENT_FILE", "FULL", "MEDICAL_SETS", "NATURAL_SETS", "REPORT_NOTEBOOK", "SMOKE",
           "SMOKE_SUBSETS", "SURVEY_EXPERIMENTS", "Experiment", "experiment_runs", "find_experiments",
           "image_experiment",
           "medical_experiment", "missing_checkpoints", "normalise_models", "read_experiment",
           "robustness_experiment", "survey_models", "survey_plan", "video_experiment"]


# --------------------------------------------------------------------------- models
def survey_models(smoke: bool = False, checkpoint_dir: str | Path | None = None) -> list[dict]:
    """The models the survey suite runs here.

    Parameters
    ----------
    smoke : bool
        Smoke mode: one SAM 2 and one SAM model at most (the smallest checkpoint present),
        UNTRAINED (``checkpoint="random"``, ``image_size`` :data:`UNTRAINED_IMAGE_SIZE`) for a
        family without any checkpoint.
    checkpoint_dir : path, optional
        Default ``$SAM2_CHECKPOINT_DIR``.

    Returns
    -------
    list of dict
        ``{"backend", "model", "checkpoint", "image_size"}``: classical first, then SAM 2
        (SAM 2.1 before SAM 2, small to large), then SAM (vit_b, vit_l, vit_h). Present
        checkpoints run at 1024 px, ``checkpoint`` the file's path.
    """
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    models = [{"backend": "classical", "model": None, "checkpoint": None, "image_size": 1024}]
    sam2 = [(m, get_spec(m).filename) for m in available_models(folder)]
    sam1 = [(m, get_spec(m, backend="sam").filename) for m in available_models(folder, backend="sam")]
    for backend, present, fallback in (("sam2", sam2, "sam2.1_hiera_tiny"), ("sam", sam1, "vit_b")):
        if smoke:
            present = present[:1]
            if not present:
                models.append({"backend": backend, "model": fallback, "checkpoint": "random",
                               "image_size": UNTRAINED_IMAGE_SIZE})
        models += [{"backend": backend, "model": m, "checkpoint": str(folder / f), "image_size": 1024}
                   for m, f in present]
    return models


def missing_checkpoints(checkpoint_dir: str | Path | None = None) -> list[dict]:
    """Official SAM 2 / SAM 2.1 / SAM checkpoints whose file is not in the checkpoint folder.

    Returns
    -------
    list of dict
        ``{"backend", "model", "file", "folder"}``, one per missing file (registry order).
    """
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_dir()
    out = [{"backend": "sam2", "model": s.name, "file": s.filename} for s in list_specs()]
    out += [{"backend": "sam", "model": s.size, "file": s.filename} for s in list_specs(backend="sam")]
    return [{**m, "folder": str(folder)} for m in out if not (folder / m["file"]).is_file()]


def normalise_models(models: Sequence[dict] | None, smoke: bool = False, device: str = "cpu") -> list[dict]:
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
            raise ConfigError(f"Each model must be a dict with keys among {list(keys)} (backend required); got {m!r}. "
                              'Example: {"backend": "sam2", "model": "sam2.1_hiera_tiny", "checkpoint": None}.')
        if m["backend"] not in BACKENDS:
            raise ConfigError(f"Model {m!r}: backend must be one of {list(BACKENDS)}.")
        out.append({"backend": m["backend"], "model": m.get("model"), "checkpoint": m.get("checkpoint"),
                    "image_size": int(m.get("image_size") or 1024), "device": m.get("device") or device})
    return out


def _sizes(smoke: bool, name: str, **given) -> dict:
    """Smoke or full sizes of experiment ``name``, overridden by the values given (None keeps the default)."""
    base = dict(SMOKE if smoke else FULL)
    if smoke and name in SMOKE_SUBSETS:
        base["subset"] = SMOKE_SUBSETS[name]
    base.update({k: v for k, v in given.items() if v is not None})
    return base


def _open(name: str, params: dict, run_id, reports_root, executor, num_workers, smoke, models, device):
    models = normalise_models(models, smoke, device)
    exp = Experiment(name, run_id, reports_root, {**params, "models": models, "smoke": smoke},
                     executor=executor, num_workers=num_workers, missing=missing_checkpoints())
    return exp, models


def image_experiment(models: Sequence[dict] | None = None, datasets: Sequence[str] = NATURAL_SETS,
                     data_root: str | Path | None = None, subset: int | list[str] | None = None,
                     n_clicks: int | None = None, device: str = "cpu", smoke: bool = False, run_id: str | None = None,
                     reports_root: str | Path | None = None, executor: str | Executor = "local",
                     num_workers: int = 2, seed: int = 0, name: str = "exp_image_sam_vs_sam2") -> Experiment:
    """Click protocol and box prompt for every model × image set (survey Tables 2-3, §3.3).

    Parameters
    ----------
    models : list of dict, optional
        See :func:`normalise_models` (default :func:`survey_models`).
    datasets : list of str
        Image sets (any name :func:`workbench.runners.image_runner.image_datasets` accepts).
    subset, n_clicks : optional
        Images per set and clicks per image (default: all / 20; smoke 2 / 5).
    run_id, reports_root
        The experiment folder (see :class:`Experiment`).

    Returns
    -------
    Experiment
        Finished; runs ``img-<dataset>-m<i>-<backend>-<model>…`` under ``runs/``.
    """
    sz = _sizes(smoke, name, subset=subset, n_clicks=n_clicks)
    exp, models = _open(name, {"datasets": list(datasets), "subset": sz["subset"], "n_clicks": sz["n_clicks"],
                               "seed": seed}, run_id, reports_root, executor, num_workers, smoke, models, device)
    for dataset in datasets:
        for i, m in enumerate(models):
            exp.image(i, m, dataset, data_root=data_root, subset=sz["subset"], max_clicks=sz["n_clicks"], seed=seed)
    return exp.finish()


def medical_experiment(models: Sequence[dict] | None = None, datasets: Sequence[str] = MEDICAL_SETS,
                       data_root: str | Path | None = None, subset: int | list[str] | None = None,
                       n_clicks: int | None = None, volumes: int | list[str] | None = None,
                       volume_prompt: str = "mask", max_frame_num_to_track: int | None = None,
                       device: str = "cpu", smoke: bool = False, run_id: str | None = None,
                       reports_root: str | Path | None = None, executor: str | Executor = "local",
                       num_workers: int = 2, seed: int = 0, name: str = "exp_medical") -> Experiment:
    """Medical sets (survey Tables 4-5): the image protocol per model × 2-D set, and 3-D volumes
    segmented as slice sequences (prompt one slice, propagate both ways, 3-D Dice) per video
    model. ``volumes=0`` skips the volumes. Other parameters as :func:`image_experiment`.
    """
    sz = _sizes(smoke, name, subset=subset, n_clicks=n_clicks, volumes=volumes,
                max_frame_num_to_track=max_frame_num_to_track)
    params = {"datasets": list(datasets), "subset": sz["subset"], "n_clicks": sz["n_clicks"], "volumes": sz["volumes"],
              "volume_prompt": volume_prompt, "max_frame_num_to_track": sz["max_frame_num_to_track"], "seed": seed}
    exp, models = _open(name, params, run_id, reports_root, executor, num_workers, smoke, models, device)
    for dataset in datasets:
        for i, m in enumerate(models):
            exp.image(i, m, dataset, data_root=data_root, subset=sz["subset"], max_clicks=sz["n_clicks"], seed=seed)
    if sz["volumes"] != 0:
        for i, m in enumerate(models):
            exp.volume(i, m, volume_prompt, data_root=data_root, volumes=sz["volumes"],
                       max_frame_num_to_track=sz["max_frame_num_to_track"], seed=seed)
    return exp.finish()


def video_experiment(models: Sequence[dict] | None = None, prompts: Sequence[str] = VOS_PROMPTS,
                     data_root: str | Path | None = None, sequences: int | list[str] | None = None,
                     max_frames: int | None = None, device: str = "cpu", smoke: bool = False,
                     run_id: str | None = None, reports_root: str | Path | None = None,
                     executor: str | Executor = "local", num_workers: int = 2, seed: int = 0,
                     name: str = "exp_video_prompts") -> Experiment:
    """Semi-supervised VOS on DAVIS per video model × first-frame prompt (survey Tables 6-7,
    §4.3: J&F, J/F recall and decay, G, FPS). SAM (v1) entries are skipped and recorded."""
    bad = [p for p in prompts if p not in VOS_PROMPTS]
    if bad:
        raise ConfigError(f"Unknown VOS prompt(s) {bad}; valid: {list(VOS_PROMPTS)}.")
    sz = _sizes(smoke, name, sequences=sequences, max_frames=max_frames)
    params = {"prompts": list(prompts), "sequences": sz["sequences"], "max_frames": sz["max_frames"], "seed": seed}
    exp, models = _open(name, params, run_id, reports_root, executor, num_workers, smoke, models, device)
    for prompt in prompts:
        for i, m in enumerate(models):
            exp.vos(i, m, prompt, data_root=data_root, sequences=sz["sequences"], max_frames=sz["max_frames"],
                    seed=seed)
    return exp.finish()


def robustness_experiment(models: Sequence[dict] | None = None, image_datasets: Sequence[str] = ("grabcut",),
                          corruptions: Sequence[str] | None = None, severities: Sequence[int] | None = None,
                          video: bool = True, vos_prompt: str = "mask", data_root: str | Path | None = None,
                          subset: int | list[str] | None = None, n_clicks: int | None = None,
                          sequences: int | list[str] | None = None, max_frames: int | None = None,
                          device: str = "cpu", smoke: bool = False, run_id: str | None = None,
                          reports_root: str | Path | None = None, executor: str | Executor = "local",
                          num_workers: int = 2, seed: int = 0, name: str = "exp_robustness") -> Experiment:
    """Image and VOS protocols under corruptions (survey §5: noise, blur, compression,
    contrast, occlusion), each model × corruption × severity, plus the clean run (severity 0)
    the degradation curves start from.

    Parameters
    ----------
    corruptions : list of str, optional
        Names of ``workbench.io.corruptions.CORRUPTIONS`` (default all; smoke 2).
    severities : list of int, optional
        1..5 (default 1, 3, 5; smoke 3).
    video : bool
        Also run the VOS protocol (prompt ``vos_prompt``) on the corrupted frames.
    """
    sz = _sizes(smoke, name, subset=subset, n_clicks=n_clicks, sequences=sequences, max_frames=max_frames,
                corruptions=corruptions, severities=severities)
    bad = [c for c in sz["corruptions"] if c not in CORRUPTIONS]
    if bad:
        raise ConfigError(f"Unknown corruption(s) {bad}; valid: {list(CORRUPTIONS)}.")
    params = {"image_datasets": list(image_datasets), "corruptions": list(sz["corruptions"]),
              "severities": [int(s) for s in sz["severities"]], "video": video, "vos_prompt": vos_prompt,
              "subset": sz["subset"], "n_clicks": sz["n_clicks"], "sequences": sz["sequences"],
              "max_frames": sz["max_frames"], "seed": seed}
    exp, models = _open(name, params, run_id, reports_root, executor, num_workers, smoke, models, device)
    settings = [(None, 0)] + [(c, int(s)) for c in sz["corruptions"] for s in sz["severities"]]
    for i, m in enumerate(models):
        for corruption, severity in settings:
            for dataset in image_datasets:
                exp.image(i, m, dataset, data_root=data_root, subset=sz["subset"], max_clicks=sz["n_clicks"],
                          seed=seed, corruption=corruption, severity=severity)
            if video:
                exp.vos(i, m, vos_prompt, data_root=data_root, sequences=sz["sequences"],
                        max_frames=sz["max_frames"], seed=seed, corruption=corruption, severity=severity)
    return exp.finish()


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
