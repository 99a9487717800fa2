"""Run specs: round trips through dicts and run cards, the checks they make (the runners' own
errors and messages), resume from the spec stored in a run card, and the shape of the runners
package (few parameters per public function, no import cycle)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
from dataclasses import FrozenInstanceError, fields, is_dataclass
from pathlib import Path

import pytest

import workbench.runners as runners_pkg
from workbench.errors import ConfigError, UnknownNameError
from workbench.protocols.specs import (
    SPEC_KINDS,
    BackendRequest,
    ImageRunSpec,
    PVSRunSpec,
    VolumeRunSpec,
    VOSRunSpec,
    image_datasets,
    spec_from_dict,
)
from workbench.runners import (
    RUNNERS,
    ExecutionOptions,
    read_run,
    resume_run,
    run_image_benchmark,
    run_pvs_benchmark,
    run_spec,
    run_volume_benchmark,
    run_vos_benchmark,
    spec_from_card,
    survey,
)
from workbench.runners.items import ImageTask, VOSTask, comparable_outputs
from workbench.runners.report import notebook_parameters
from workbench.runners.runlog import read_records
from workbench.runners.volume_runner import VolumeTask

SAM2 = BackendRequest(backend="sam2", model="sam2.1_hiera_tiny", checkpoint="random", device="cpu", image_size=256)
SPECS = [
    ImageRunSpec(),
    ImageRunSpec(
        backend_request=SAM2,
        dataset="nuclei",
        subset=["a/0001", "b/0002"],
        max_clicks=7,
        multimask="always",
        box_prompt=False,
        stop_at_iou=0.9,
        save_masks=True,
        overlay_clicks=3,
        corruption="jpeg",
        severity=4,
        seed=11,
    ),
    ImageRunSpec(smoke=True),
    VOSRunSpec(),
    VOSRunSpec(
        backend_request=SAM2,
        sequences=["blackswan"],
        max_frames=4,
        prompt="clicks",
        n_clicks=3,
        save_masks=True,
        corruption="occluder",
        severity=2,
        seed=5,
    ),
    VOSRunSpec(smoke=True, prompt="box"),
    VolumeRunSpec(),
    VolumeRunSpec(
        backend_request=SAM2,
        volumes=["v1", "v2"],
        prompt="clicks3",
        prompt_slice=4,
        max_frame_num_to_track=2,
        window=[-100, 300],
        save_masks=True,
        seed=2,
    ),
    VolumeRunSpec(smoke=True, prompt_slice="middle"),
    PVSRunSpec(),
    PVSRunSpec(
        backend_request=SAM2,
        sequences=["blackswan"],
        max_frames=5,
        mode="online",
        max_annotated_frames=4,
        clicks_per_frame=2,
        iou_threshold=0.5,
        policy="samurai",
        save_masks=True,
    ),
    PVSRunSpec(smoke=True, skip_first_last=True),
]


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}")
def test_specs_round_trip_through_json_dicts(spec):
    data = spec.to_dict()
    assert data["kind"] == spec.kind and SPEC_KINDS[spec.kind] is type(spec)
    assert json.loads(json.dumps(data)) == data  # JSON-able as it is
    again = spec_from_dict(json.loads(json.dumps(data)))
    assert again == spec and type(again) is type(spec)
    assert again.to_dict() == data
    assert hash(again) == hash(spec)  # frozen, normalised (lists stored as tuples)
    with pytest.raises(FrozenInstanceError):
        spec.seed = 3


def test_specs_are_normalised_when_made():
    img = ImageRunSpec(dataset="ct_structures", subset=["x"], smoke=True, max_clicks=20)
    assert (img.dataset, img.subset, img.max_clicks) == ("sammed2d_ct", ("x",), 5)
    assert ImageRunSpec(smoke=True).subset == 5 and ImageRunSpec(smoke=True, max_clicks=3).max_clicks == 3
    vos = VOSRunSpec(prompt="clicks", n_clicks=5, smoke=True)
    assert (vos.prompt, vos.n_clicks, vos.sequences, vos.max_frames) == ("clicks5", 5, 2, 8)
    assert VOSRunSpec(prompt="clicks", n_clicks=3) == VOSRunSpec(prompt="clicks3")
    vol = VolumeRunSpec(smoke=True, window=(0, 1))
    assert (vol.volumes, vol.max_frame_num_to_track, vol.window) == (1, 3, (0.0, 1.0))
    assert ImageRunSpec(corruption="jpeg", severity=3).tag == "-jpeg3" and ImageRunSpec().tag == ""


def test_text_prompt_params_only_for_text_runs():
    text = ImageRunSpec(text_prompt=" dog ", text_threshold=0.3)
    assert (
        text.text_prompt == "dog" and text.params()["text_prompt"] == "dog" and text.params()["text_threshold"] == 0.3
    )
    assert "text_prompt" not in ImageRunSpec().params()
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        ImageRunSpec(text_prompt="dog", text_threshold=1.5)


def test_params_are_the_run_card_params_of_before():
    assert ImageRunSpec(subset=2, max_clicks=3).params() == {
        "max_clicks": 3,
        "multimask": "first",
        "box_prompt": True,
        "stop_at_iou": None,
        "subset": 2,
        "save_masks": False,
        "overlay_clicks": 5,
        "smoke": False,
    }
    assert VOSRunSpec(sequences=["dog"], corruption="jpeg", severity=2).params() == {
        "prompt": "mask",
        "max_frames": None,
        "save_masks": False,
        "sequences": ["dog"],
        "smoke": False,
        "corruption": "jpeg",
        "severity": 2,
    }
    assert VolumeRunSpec(window=[1, 2]).params() == {
        "prompt": "mask",
        "prompt_slice": "largest",
        "max_frame_num_to_track": None,
        "window": [1.0, 2.0],
        "volumes": None,
        "save_masks": False,
        "smoke": False,
    }


def test_flat_settings_fill_the_backend_request_and_the_spec():
    spec = ImageRunSpec.from_settings(backend="sam2", image_size=256, dataset="grabcut", max_clicks=4)
    assert spec.backend_request == BackendRequest(backend="sam2", image_size=256) and spec.max_clicks == 4
    assert ImageRunSpec.from_settings(spec, device="cuda").backend_request.image_size == 256
    assert spec_from_dict({"kind": "vos", "backend_request": {"backend": "sam2"}}).backend_request.backend == "sam2"
    with pytest.raises(UnknownNameError, match="max_clicks") as err:
        ImageRunSpec.from_settings(nclicks=3)
    assert "backend" in str(err.value) and "dataset" in str(err.value)
    with pytest.raises(UnknownNameError, match="run spec kind"):
        spec_from_dict({"kind": "audio"})
    with pytest.raises(UnknownNameError, match="ImageRunSpec field"):
        spec_from_dict({"kind": "image", "clicks": 3})
    with pytest.raises(ConfigError, match="kind"):
        spec_from_dict({"dataset": "grabcut"})


# --------------------------------------------------------------------------- checks (the runners' errors)
BAD = [
    (lambda: ImageRunSpec(corruption="fog", severity=2), UnknownNameError, "Unknown corruption 'fog'"),
    (lambda: VOSRunSpec(corruption="jpeg", severity=7), ConfigError, "severity"),
    (
        lambda: ImageRunSpec(severity=2),
        ConfigError,
        "severity=2 was given without a corruption; pass corruption= one of gaussian_noise, gaussian_blur, jpeg, "
        "low_contrast, occluder (or severity=0).",
    ),
    (
        lambda: ImageRunSpec(dataset="ct_organs"),
        UnknownNameError,
        str(UnknownNameError("image dataset", "ct_organs", image_datasets())),
    ),
    (lambda: ImageRunSpec(multimask="sometimes"), UnknownNameError, "Unknown multimask mode 'sometimes'"),
    (
        lambda: VOSRunSpec(prompt="scribble"),
        UnknownNameError,
        "Unknown VOS prompt 'scribble'. Valid options: box, clicks1, clicks3, clicks5, detector, mask, text.",
    ),
    (lambda: VOSRunSpec(prompt="clicks", n_clicks=2), UnknownNameError, "Unknown VOS prompt 'clicks2'"),
    (lambda: VOSRunSpec(dataset="youtube"), UnknownNameError, "Unknown video dataset layout 'youtube'"),
    (lambda: VolumeRunSpec(prompt="scribble"), UnknownNameError, "Unknown volume prompt 'scribble'"),
    (
        lambda: VolumeRunSpec(prompt_slice="top"),
        UnknownNameError,
        "Unknown prompt slice 'top'. Valid options: <slice index>, largest, middle.",
    ),
    (lambda: VolumeRunSpec(window=[1]), ConfigError, "window must be two numbers"),
]


@pytest.mark.parametrize("make, error, message", BAD)
def test_bad_settings_raise_the_runners_errors(make, error, message):
    with pytest.raises(error) as err:
        make()
    assert message in str(err.value)


def test_runners_refuse_bad_calls_before_loading_anything(tmp_path):
    with pytest.raises(UnknownNameError, match="Unknown run_image_benchmark setting 'nclicks'") as err:
        run_image_benchmark(nclicks=3, reports_root=tmp_path)
    assert "max_clicks" in str(err.value) and "reports_root" in str(err.value)  # both kinds of names listed
    with pytest.raises(ConfigError, match="takes a VOSRunSpec"):
        run_vos_benchmark(ImageRunSpec())
    with pytest.raises(ConfigError, match="takes a ImageRunSpec"):
        run_image_benchmark("classical")  # the old first positional parameter
    with pytest.raises(UnknownNameError, match="clicks1"):
        run_volume_benchmark(prompt="scribble", reports_root=tmp_path)
    with pytest.raises(UnknownNameError, match="resume_run setting"):
        resume_run("x", reports_root=tmp_path, max_clicks=3)
    assert not any(tmp_path.iterdir())


def test_tasks_are_made_from_the_spec():
    img = ImageRunSpec(dataset="grabcut", max_clicks=3, corruption="jpeg", severity=2, seed=4, overlay_clicks=2)
    assert ImageTask.from_spec(img, "/r") == ImageTask("grabcut", 3, "first", True, None, False, 2, "/r", "jpeg", 2, 4)
    vos = VOSRunSpec(prompt="box", max_frames=4, save_masks=True)
    assert VOSTask.from_spec(vos, Path("/r")) == VOSTask("box", 4, True, "/r")
    vol = VolumeRunSpec(window=[0, 1], prompt_slice=3)
    assert VolumeTask.from_spec(vol, "/r") == VolumeTask("mask", 3, None, (0.0, 1.0), False, "/r")


def test_every_kind_has_a_runner():
    assert set(RUNNERS) == set(SPEC_KINDS)
    assert RUNNERS["image"] is run_image_benchmark and RUNNERS["vos"] is run_vos_benchmark
    assert RUNNERS["volume"] is run_volume_benchmark and RUNNERS["pvs"] is run_pvs_benchmark


# --------------------------------------------------------------------------- run cards and resume
def _cut(run_dir: Path, keep: int) -> None:
    """Make ``run_dir`` look interrupted after ``keep`` items."""
    log = run_dir / "items.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:keep]))
    (run_dir / "summary.json").unlink()
    card = json.loads((run_dir / "run_card.json").read_text())
    (run_dir / "run_card.json").write_text(json.dumps({**card, "status": "interrupted"}))


def _same(a: Path, b: Path) -> None:
    ca, cb = comparable_outputs(a), comparable_outputs(b)
    assert set(ca) == set(cb)
    for name in ca:
        assert ca[name] == cb[name], f"{name} differs"


CASES = {
    "image": ImageRunSpec(
        dataset="grabcut",
        subset=3,
        max_clicks=2,
        save_masks=True,
        overlay_clicks=1,
        corruption="gaussian_noise",
        severity=2,
        seed=3,
    ),
    "vos": VOSRunSpec(
        sequences=["blackswan", "dog"], max_frames=3, prompt="box", corruption="occluder", severity=3, seed=1
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("legacy", [False, True], ids=["card-with-spec", "card-before-specs"])
def test_resume_rebuilds_the_spec_from_the_card(kind, legacy, tmp_path, data_dir):
    spec = CASES[kind]
    data_root = data_dir / "davis2016" if kind == "vos" else data_dir
    opts = ExecutionOptions(reports_root=tmp_path, data_root=data_root, progress=False)
    reference = run_spec(
        spec, ExecutionOptions(reports_root=tmp_path, run_id="reference", data_root=data_root, progress=False)
    )
    card = read_run(reference)["card"]
    assert card["spec"] == spec.to_dict() and spec_from_card(card) == spec
    assert (card["kind"], card["dataset"], card["seed"]) == (spec.kind, spec.dataset, spec.seed)
    assert {k: v for k, v in card["params"].items() if k != "backend_request"} == spec.params()
    assert card["params"]["backend_request"]["kind"] == spec.backend_kind

    cut = RUNNERS[kind](
        spec, ExecutionOptions(reports_root=tmp_path, run_id="cut", data_root=data_root, progress=False)
    )
    _cut(cut, keep=1)
    if legacy:  # a card written before specs: rebuilt once from params / backend_request
        old = {k: v for k, v in read_run(cut)["card"].items() if k != "spec"}
        (cut / "run_card.json").write_text(json.dumps(old))
        assert spec_from_card(old) == spec
    assert resume_run("cut", opts) == cut
    sessions = json.loads((cut / "execution.json").read_text())["sessions"]
    assert (sessions[-1]["items_reused"], sessions[-1]["items_run"], sessions[-1]["resumed"]) == (
        1,
        len(card["items"]) - 1,
        True,
    )
    assert list(read_records(cut / "items.jsonl")) == card["items"]
    _same(reference, cut)  # run card (spec included) and every result file


def test_cards_without_settings_are_refused_with_a_fix():
    card = {"run_id": "old", "kind": "image", "dataset": "grabcut", "params": {"max_clicks": 5}}
    with pytest.raises(ConfigError, match="no backend_request in its run card.*start it again"):
        spec_from_card(card)
    with pytest.raises(ConfigError, match="no backend_request"):
        notebook_parameters(card)


def test_notebook_parameters_come_from_the_spec():
    spec = VOSRunSpec(sequences=["dog"], prompt="clicks3", smoke=True)
    card = {"run_id": "r", "kind": "vos", "dataset": "davis", "spec": spec.to_dict(), "params": {}}
    assert notebook_parameters(card) == (
        "vos",
        {
            "backend": "classical",
            "device": "auto",
            "image_size": 1024,
            "precision": "auto",
            "dataset": "davis",
            "smoke": True,
            "save_masks": False,
            "subset": ["dog"],
            "prompt": "clicks3",
            "max_frames": 8,
        },
    )
    vol = {"run_id": "v", "kind": "volume", "spec": VolumeRunSpec().to_dict()}
    with pytest.raises(ConfigError, match="resume_run"):
        notebook_parameters(vol)


# --------------------------------------------------------------------------- survey experiment specs
def test_experiment_specs_take_flat_settings_and_check_them():
    spec = survey.RobustnessExperimentSpec(corruptions=["jpeg"], severities=[5], smoke=True)
    assert spec.sizes()["subset"] == 1 and spec.sizes()["corruptions"] == ("jpeg",)
    models = survey.normalise_models([{"backend": "classical"}])
    record = spec.record(models)
    assert record["corruptions"] == ["jpeg"] and record["severities"] == [5] and record["models"] == models
    assert record["smoke"] is True and "device" not in record and "name" not in record
    with pytest.raises(ConfigError, match=r"Unknown corruption\(s\) \['fog'\]"):
        survey.robustness_experiment([{"backend": "classical"}], corruptions=["fog"])
    with pytest.raises(ConfigError, match=r"Unknown VOS prompt\(s\) \['scribble'\]"):
        survey.video_experiment(prompts=["scribble"])
    with pytest.raises(ConfigError, match="backend must be one of"):
        survey.image_experiment([{"backend": "sam3"}])
    with pytest.raises(UnknownNameError, match="image_experiment setting 'n_click'"):
        survey.image_experiment([{"backend": "classical"}], n_click=3)


# --------------------------------------------------------------------------- package shape
MAX_PARAMETERS = 8


def _public_callables():
    """Public functions and methods defined in workbench.runners modules (dataclass-generated
    ``__init__`` of records such as RunCard or ImageTask excluded: they are data, not calls)."""
    for info in pkgutil.iter_modules(runners_pkg.__path__):
        mod = importlib.import_module(f"workbench.runners.{info.name}")
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{mod.__name__}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    if attr == "__init__" and is_dataclass(obj):
                        continue
                    member = getattr(member, "__func__", member)
                    if inspect.isfunction(member):
                        yield f"{mod.__name__}.{name}.{attr}", member


def test_public_runner_functions_take_few_parameters():
    found = dict(_public_callables())
    assert "workbench.runners.image_runner.run_image_benchmark" in found
    assert "workbench.runners.survey.robustness_experiment" in found
    assert "workbench.runners.experiments.Experiment.__init__" in found
    too_many = {}
    for name, fn in found.items():
        params = [p for p in inspect.signature(fn).parameters.values() if p.name not in ("self", "cls")]
        if len(params) > MAX_PARAMETERS:
            too_many[name] = len(params)
    assert not too_many, f"more than {MAX_PARAMETERS} parameters (**kwargs counts as one): {too_many}"


def _runner_imports() -> dict[str, set[str]]:
    """Module → runners modules it imports (every import statement, also inside functions)."""
    folder = Path(runners_pkg.__file__).parent
    mods = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name if a.name in mods else "__init__" for a in node.names)
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("workbench.runners")
            ):
                deps.add((node.module.split(".")[2:] or ["__init__"])[0])
            elif isinstance(node, ast.Import):
                deps.update(
                    (a.name.split(".")[2:] or ["__init__"])[0]
                    for a in node.names
                    if a.name.startswith("workbench.runners")
                )
        graph[path.stem] = {d for d in deps if d in mods and d != path.stem}
    return graph


def test_runners_package_has_no_import_cycle():
    graph = _runner_imports()
    assert {"runlog", "registry", "image_runner"} <= set(graph)
    assert "registry" in graph["experiments"] and not graph["runlog"] & {
        "image_runner",
        "vos_runner",
        "volume_runner",
        "registry",
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_protocol_specs_do_not_import_runners():
    tree = ast.parse(Path(importlib.import_module("workbench.protocols.specs").__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imported and not any("runners" in m for m in imported)
    assert all(f.name in ExecutionOptions.names() for f in fields(ExecutionOptions))
