"""Executors: the Ray executor (2 workers, one backend each) gives the local executor's run
files exactly (timing fields aside), on real DAVIS sequences and GrabCut images."""

from __future__ import annotations

import json
import os
import time

import pytest

from workbench.errors import ConfigError, UnknownNameError
from workbench.io.datasets import load_davis
from workbench.runners import run_image_benchmark, run_vos_benchmark
from workbench.runners.executors import BackendSpec, LocalExecutor, RayExecutor, gpus_per_worker, make_executor
from workbench.runners.items import VOSTask, comparable_outputs
from workbench.runners.runlog import read_records


@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray instance (2 CPUs) for the whole module, shut down at the end."""
    import ray

    assert not ray.is_initialized()
    with RayExecutor(num_workers=2) as ex:
        yield ex
    assert not ray.is_initialized()


def _timed(fn, **kw):
    t0 = time.perf_counter()
    out = fn(**kw)
    return out, time.perf_counter() - t0


def _assert_same_results(a, b, expected_files):
    ca, cb = comparable_outputs(a), comparable_outputs(b)
    assert expected_files <= set(ca)
    assert set(ca) == set(cb)
    for name in ca:
        assert ca[name] == cb[name], f"{name} differs between executors"


def _assert_ran_on_two_workers(run_dir):
    pids = {rec["timing"]["worker_pid"] for rec in read_records(run_dir / "items.jsonl").values()}
    assert len(pids) == 2 and os.getpid() not in pids
    session = json.loads((run_dir / "execution.json").read_text())["sessions"][-1]
    assert (session["executor"], session["num_workers"], session["status"]) == ("ray", 2, "done")


@pytest.mark.slow
def test_ray_vos_run_equals_local_run(tmp_path, davis_dir, ray_executor, record_property):
    kw = dict(
        backend="classical",
        data_root=davis_dir,
        sequences=["blackswan", "car-shadow"],
        max_frames=6,
        save_masks=True,
        reports_root=tmp_path,
        progress=False,
    )
    local, t_local = _timed(run_vos_benchmark, run_id="local", executor="local", **kw)
    remote, t_ray = _timed(run_vos_benchmark, run_id="ray", executor=ray_executor, **kw)
    _assert_same_results(
        local,
        remote,
        {
            "global_results.csv",
            "per_sequence_results.csv",
            "sequences.csv",
            "per_frame.json",
            "summary.json",
            "items.jsonl",
            "masks/car-shadow/00005.png",
        },
    )
    _assert_ran_on_two_workers(remote)
    # timing columns exist but are left out of the comparison
    assert "FPS" in (remote / "sequences.csv").read_text().splitlines()[0]
    record_property("vos_speedup_2_workers", t_local / t_ray)


@pytest.mark.slow
def test_ray_image_run_equals_local_run(tmp_path, data_dir, ray_executor, record_property):
    kw = dict(
        backend="classical",
        dataset="grabcut",
        data_root=data_dir,
        subset=4,
        max_clicks=3,
        save_masks=True,
        overlay_clicks=2,
        reports_root=tmp_path,
        progress=False,
    )
    local, t_local = _timed(run_image_benchmark, run_id="local", executor="local", **kw)
    remote, t_ray = _timed(run_image_benchmark, run_id="ray", executor=ray_executor, **kw)
    _assert_same_results(
        local,
        remote,
        {"per_image.csv", "clicks.json", "click_curve.csv", "summary.json", "items.jsonl", "masks/106024.png"},
    )
    _assert_ran_on_two_workers(remote)
    per_image = (remote / "per_image.csv").read_text().splitlines()
    assert per_image[0].endswith(",latency_ms") and len(per_image) == 5
    record_property("image_speedup_2_workers", t_local / t_ray)


@pytest.mark.slow
def test_worker_errors_reach_the_driver_as_the_original_error(tmp_path, davis_dir, ray_executor):
    one = RayExecutor(num_workers=1)  # joins the module's Ray instance, leaves it running
    item = load_davis(davis_dir, ["blackswan"])[0]
    with one.pool(BackendSpec("video")) as pool:
        assert pool.info.backend == "classical" and pool.num_workers == 1
        with pytest.raises(UnknownNameError, match="clicks1") as err:  # raised by the task in the worker
            list(pool.imap_unordered(VOSTask("scribble", 3, False, str(tmp_path)), [item]))
        assert err.value.name == "scribble" and "Ray worker pid" in err.value.__notes__[0]
        one.resource_wait_s = 0.5
        with (
            pytest.raises(
                ConfigError, match="0 CPUs and 0 GPUs free; 1 workers need 2 CPUs"
            ),  # the open pool holds every CPU: refused, no hang
            one.pool(BackendSpec("video")),
        ):
            pass
    one.resource_wait_s = 30.0
    with (
        pytest.raises(UnknownNameError, match="classical"),  # raised while a worker builds its backend
        one.pool(BackendSpec("image", backend="sam3")),
    ):
        pass
    assert ray_executor.describe()["num_workers"] == 2


def test_executor_choice_and_gpu_shares():
    assert isinstance(make_executor("local"), LocalExecutor)
    ex = make_executor("ray", num_workers=3, address="ray://example:10001")
    assert isinstance(ex, RayExecutor) and ex.num_workers == 3 and ex.describe()["address"] == "ray://example:10001"
    assert make_executor(ex) is ex
    with pytest.raises(UnknownNameError, match="ray"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="num_workers"):
        RayExecutor(num_workers=0)
    assert RayExecutor(num_workers=2)._cpus(16.0) == 8 and RayExecutor(num_workers=3)._cpus(16.0) == 5
    with pytest.raises(ConfigError, match="need 8 CPUs but the Ray cluster has 2"):  # would wait forever
        RayExecutor(num_workers=2, cpus_per_worker=4)._cpus(2.0)
    with pytest.raises(ConfigError, match="need 4 CPUs"):
        RayExecutor(num_workers=4)._cpus(2.0)
    cuda, cpu = BackendSpec("video", device="cuda"), BackendSpec("video", device="cpu")
    assert gpus_per_worker(cuda, 2, 4.0) == 1.0
    assert gpus_per_worker(cuda, 4, 2.0) == 0.5
    assert gpus_per_worker(cuda, 2, 0.0) == 0.0
    assert gpus_per_worker(cpu, 2, 4.0) == 0.0
