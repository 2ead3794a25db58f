"""Meta-training over several processes: shards draw like one batch, 2 ranks match 1, errors."""

import csv
import itertools
import os
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as torch_dist

from metarl.agents.regressor import MLPRegressor
from metarl.agents.supervised import SupervisedConfig, SupervisedLearner
from metarl.config import dump_config
from metarl.envs.sine import SineRegression
from metarl.envs.task_streams import TaskShard
from metarl.meta.distributed import Distributed, task_range
from metarl.problem import initial_theta
from metarl.problems import config_from_dict
from metarl.rl.components import build_components
from metarl.runs.checkpoint import latest_checkpoint, load_checkpoint
from metarl.training import train_run

# small enough that float32 rounding (batched matmuls of 3 or 5 tasks differ in the last bit)
# is not amplified past the tolerance by the few PPO and Adam steps
SMALL = {
    "run": {"checkpoint_every": 2},
    "policy": {"hidden": [16], "init_log_std": -1.0},
    "ppo": {"num_envs": 4, "num_steps": 50, "num_epochs": 2, "num_minibatches": 2,
            "learning_rate": 1e-3},
    "meta": {"meta_iterations": 4, "meta_batch": 5, "inner_iterations": 2, "val_tasks": 3,
             "val_every": 2},
    "eval": {"methods": ["reptile"]},
}


def _config(family="Navigation2D", **sections):
    data = {k: dict(v) for k, v in SMALL.items()}
    data["env"] = {"family": family}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return config_from_dict(data)


def _torchrun(tmp_path, config, out, nproc=2, extra=(), env=None):
    path = tmp_path / f"{out.name}.toml"
    path.write_text(dump_config(config))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "metarl", "train", str(path), "--out", str(out),
           "--quiet", "--no-eval", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _final(out, method="reptile"):
    return load_checkpoint(latest_checkpoint(out / "checkpoints" / method))


def _metrics(out):
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_task_range_splits_contiguously_and_evenly():
    for total in (1, 5, 20, 1001):
        for world in range(1, min(total, 7) + 1):
            ranges = [task_range(total, r, world) for r in range(world)]
            assert ranges[0][0] == 0 and ranges[-1][1] == total
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            sizes = [stop - start for start, stop in ranges]
            assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_task_shard_rejects_bad_ranges_and_shapes():
    gen = torch.Generator()
    with pytest.raises(ValueError, match="start <= stop"):
        TaskShard(gen, 3, 2, 5)
    sine = SineRegression()
    tasks = sine.tasks.sample(3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="does not lead with the 2 tasks of TaskShard"):
        sine.sample_points(tasks, 4, TaskShard(gen, 0, 2, 5))


@pytest.mark.parametrize("family", ["CartPoleMass", "Sine"])
def test_shards_see_the_numbers_of_the_whole_batch(family):
    """Adapting tasks 0:3 and 3:7 as two shards equals adapting 0:7 as one (random start states,
    categorical actions, support points and minibatch shuffles included); the generators end in
    the same state, so the next step draws alike too."""
    if family == "Sine":
        sine = SineRegression()
        model = MLPRegressor(hidden=(8,))
        learner = SupervisedLearner(model, SupervisedConfig(batch_size=4))
        theta = model.init(torch.Generator().manual_seed(0))
        tasks = sine.tasks.sample(7, torch.Generator().manual_seed(0))

        def adapt(part, gen):  # support points, then minibatch steps with per-task shuffles
            x, y = sine.sample_points(part, 6, gen)
            out = learner.adapt(theta, x, y, 5, gen)
            return torch.cat([x.flatten(1), out.params["layers.0.weight"].flatten(1)], dim=1)
    else:
        config = _config(family)
        fam, policy, ppo = build_components(config)
        theta = initial_theta(policy, 0, torch.device("cpu"))
        tasks = fam.tasks.sample(7, torch.Generator().manual_seed(0))

        def adapt(part, gen):
            out = ppo.adapt(theta, part, 2, gen, evaluate_final=True)
            return torch.cat([out.params["actor.1.weight"].flatten(1), out.returns.T], dim=1)

    whole_gen = torch.Generator().manual_seed(3)
    whole = adapt(tasks, TaskShard(whole_gen, 0, 7, 7))
    parts, states = [], []
    for start, stop in ((0, 3), (3, 7)):
        gen = torch.Generator().manual_seed(3)
        parts.append(adapt(tasks.index(slice(start, stop)), TaskShard(gen, start, stop, 7)))
        states.append(gen.get_state())
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-5)
    assert all(torch.equal(s, whole_gen.get_state()) for s in states)


def test_two_processes_match_one(tmp_path):
    """Reptile on Navigation2D: 2 gloo ranks (3 + 2 tasks) give the single process's theta and
    metrics after 4 meta-iterations, up to float32 rounding."""
    config = _config()
    one = train_run(config, tmp_path / "one", evaluate=False, quiet=True)
    two = tmp_path / "two"
    _torchrun(tmp_path, config, two)
    a, b = _final(one.path), _final(two)
    assert a["iteration"] == b["iteration"] == 4
    for k, v in a["theta"].items():
        torch.testing.assert_close(b["theta"][k], v, rtol=0, atol=1e-4, msg=k)
    # one process adapting 2 + 2 + 1 tasks at a time (meta.task_chunk) also matches
    chunked = train_run(_config(meta={"task_chunk": 2}), tmp_path / "chunked", evaluate=False,
                        quiet=True)
    c = _final(chunked.path)
    for k, v in a["theta"].items():
        torch.testing.assert_close(c["theta"][k], v, rtol=0, atol=1e-4, msg=k)
    rows_one = _metrics(one.path)
    assert len(rows_one) == 5  # iteration 0 (the initialisation's validation), then 1..4
    for rows in (_metrics(two), _metrics(chunked.path)):
        for r1, r2 in zip(rows_one, rows, strict=True):
            assert r1["env_steps"] == r2["env_steps"]
            for name in ("train_return_first", "train_return_last", "val_return", "approx_kl",
                         "val_k0", "val_k1_ci95"):
                assert float(r2[name]) == pytest.approx(float(r1[name]), rel=1e-3, nan_ok=True)


def test_two_processes_match_one_rank_group_fomaml_cartpole(tmp_path):
    """Reptile and first-order MAML on CartPoleMass (random start states: every rank draws them
    densely) over 2 ranks, and in one process 2 tasks at a time, equal a 1-rank process group."""
    config = _config("CartPoleMass", eval={"methods": ["reptile", "fomaml"]})
    torch_dist.init_process_group("gloo", store=torch_dist.HashStore(), rank=0, world_size=1)
    try:
        one = train_run(config, tmp_path / "one", evaluate=False, quiet=True,
                        dist=Distributed(0, 1))
    finally:
        torch_dist.destroy_process_group()
    two = tmp_path / "two"
    _torchrun(tmp_path, config, two)
    chunk_config = _config("CartPoleMass", eval={"methods": ["reptile", "fomaml"]},
                           meta={"task_chunk": 2})
    chunked = train_run(chunk_config, tmp_path / "chunked", evaluate=False, quiet=True)
    for method in ("reptile", "fomaml"):
        a = _final(one.path, method)
        for other in (_final(two, method), _final(chunked.path, method)):
            for k, v in a["theta"].items():
                torch.testing.assert_close(other["theta"][k], v, rtol=0, atol=1e-4,
                                           msg=f"{method} {k}")


def test_ranks_other_than_0_end_without_interpreter_teardown(tmp_path):
    """gloo's worker thread may still have to take the GIL to drop the last all_reduce's tensor
    when rank 1's training returns; a rank 1 that went on to shut its interpreter down aborted
    (SIGABRT) in 1 run in 10 to 40. Rank 1 ends through exit_helper_rank, which skips the
    teardown (its atexit handlers do not run); rank 0, which writes the run directory, exits
    normally."""
    marks = tmp_path / "marks"
    marks.mkdir()
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os, pathlib\n"
        "if 'RANK' in os.environ:\n"
        f"    mark = pathlib.Path({str(marks)!r}) / ('rank' + os.environ['RANK'])\n"
        "    atexit.register(mark.touch)\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    config = _config(meta={"meta_iterations": 2})
    _torchrun(tmp_path, config, tmp_path / "run", env={**os.environ, "PYTHONPATH": path})
    assert sorted(p.name for p in marks.iterdir()) == ["rank0"]
    assert _final(tmp_path / "run")["iteration"] == 2


@pytest.mark.skipif(not hasattr(torch.Tensor, "_use_count"), reason="needs Tensor._use_count")
def test_close_waits_until_the_backend_lets_go_of_the_last_all_reduce_tensor():
    """Rank 0 exits normally: close() first waits until gloo's worker thread has dropped the
    all_reduce's tensor (it takes the GIL to do so, which fails once the interpreter shuts down).
    all_sum reduces a private copy; a view of it kept anywhere would make this wait time out."""
    torch_dist.init_process_group("gloo", store=torch_dist.HashStore(), rank=0, world_size=1)
    dist = Distributed(0, 1)
    try:
        x = torch.arange(5.0)
        assert dist.all_sum(x, "test") is x
        assert torch.equal(x, torch.arange(5.0))
        assert dist.release_buffer(timeout_s=30.0)
        assert dist.release_buffer()  # nothing pending: nothing to wait for
        dist.all_sum(torch.ones(3), "test")
    finally:
        dist.close()
    assert not torch_dist.is_initialized()


def test_resumed_two_process_run_continues_exactly(tmp_path):
    config = _config()
    out = tmp_path / "run"
    _torchrun(tmp_path, config, out)
    full = _final(out)
    (out / "checkpoints" / "reptile" / "iter_000004.pt").unlink()
    _torchrun(tmp_path, config, out, extra=("--resume",))
    resumed = _final(out)
    assert resumed["iteration"] == 4
    for k, v in full["theta"].items():
        assert torch.equal(resumed["theta"][k], v), k
    assert [r["iteration"] for r in _metrics(out)] == ["0", "1", "2", "3", "4"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_rank_stops_the_others_with_a_clear_error(tmp_path):
    config = _config(meta={"meta_iterations": 10_000, "val_every": 10_000})
    path = tmp_path / "long.toml"
    path.write_text(dump_config(config))
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "metarl", "train", str(path), "--out", str(tmp_path / "run"),
             "--quiet", "--no-eval", "--dist-timeout", "120"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        checkpoints = tmp_path / "run" / "checkpoints" / "reptile"
        deadline = time.monotonic() + 120
        while not (checkpoints.is_dir() and latest_checkpoint(checkpoints) is not None):
            assert time.monotonic() < deadline and procs[0].poll() is None, "no training"
            time.sleep(0.2)  # training: a checkpoint written (meta-iteration 2)
        procs[1].kill()
        _, err = procs[0].communicate(timeout=60)
    finally:
        for p in procs:
            p.kill()
    assert procs[0].returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("metarl: error: rank 0 of 2: meta-iteration ")
    assert "another rank died, failed or stopped answering" in lines[0]
    assert latest_checkpoint(tmp_path / "run" / "checkpoints" / "reptile") is not None


def test_world_size_without_a_rendezvous_is_a_one_line_error(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match=r"WORLD_SIZE=2 is set but torch\.distributed could "
                                         r"not start .*MASTER_ADDR") as info:
        Distributed.from_env("cpu")
    assert "\n" not in str(info.value)
    assert not torch_dist.is_initialized()


def test_a_rank_that_refuses_the_config_stops_all_before_force_deletes(tmp_path):
    """One rank's check fails (here its own memory limit): every rank stops, and rank 0 does
    not replace the existing run directory it would otherwise --force over."""
    config = _config(meta={"meta_iterations": 1})
    path = tmp_path / "tiny.toml"
    path.write_text(dump_config(config))
    run = tmp_path / "run"
    train_run(config, run, evaluate=False, quiet=True)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        limit = ["--set", "run.memory_limit=0.0001"] if rank == 1 else []
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "metarl", "train", str(path), "--out", str(run), "--force",
             "--quiet", "--no-eval", "--dist-timeout", "60", *limit],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [2, 2], errors
    assert "other rank(s) refused" in errors[0]
    assert "GB are available (run.memory_limit)" in errors[1]
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
