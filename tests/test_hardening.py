"""Bad sizes, foreign files, checkpoints that lie and corrupt files: one line each, nothing lost."""

import shutil

import pytest
import torch
from tiny import tiny

from metarl.cli import main
from metarl.config import dump_config
from metarl.problems import config_from_dict
from metarl.runs.checkpoint import load_checkpoint, save_checkpoint

TINY = tiny(3, run={"checkpoint_every": 1})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained and evaluated run, and its config file; tests work on copies."""
    folder = tmp_path_factory.mktemp("hardening")
    cfg = folder / "tiny.toml"
    cfg.write_text(dump_config(config_from_dict(TINY)))
    assert main(["train", str(cfg), "--out", str(folder / "run"), "--quiet"]) == 0
    return cfg, folder / "run"


@pytest.fixture
def run(trained, tmp_path):
    cfg, source = trained
    copy = tmp_path / "run"
    shutil.copytree(source, copy)
    return cfg, copy


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("metarl: error: "), err
    return err


# ------------------------------------------------------------------ sizes that cannot fit
@pytest.mark.parametrize(("setting", "named"), [
    # chunked on the CPU (meta.task_chunk = "auto"), 10^8 tasks would fit in a few GB
    ("meta.meta_batch=10000000000", "meta.meta_batch=10000000000"),
    ("eval.test_tasks=100000000", "eval.test_tasks=100000000"),
    ("policy.hidden=[100000000]", "policy.hidden=[100000000]"),
    ("ppo.num_steps=1000000000", "1000000000 steps"),
])
def test_a_size_that_cannot_fit_stops_before_force_deletes_anything(run, capsys, setting, named):
    cfg, out = run
    before = _snapshot(out)
    assert main(["train", str(cfg), "--out", str(out), "--force", "--quiet",
                 "--set", setting]) == 2
    err = _one_line_error(capsys)
    assert "needs about" in err and "GB are available" in err and named in err
    assert _snapshot(out) == before  # --force deleted nothing


def test_maml_memory_is_estimated_before_any_work(run, capsys, tmp_path):
    cfg, _ = run
    assert main(["train", str(cfg), "--out", str(tmp_path / "new"), "--quiet",
                 "--set", 'eval.methods=["reptile","maml"]',
                 "--set", "vpg.num_envs=100000000"]) == 2
    err = _one_line_error(capsys)
    assert "MAML meta-training" in err and "100000000 envs" in err, err
    assert not (tmp_path / "new").exists()


def test_the_memory_limit_is_a_setting(run, capsys, tmp_path):
    cfg, out = run
    assert main(["train", str(cfg), "--out", str(tmp_path / "new"), "--quiet",
                 "--set", "run.memory_limit=0.0001"]) == 2
    err = _one_line_error(capsys)
    assert "0.0001 GB are available (run.memory_limit)" in err
    assert not (tmp_path / "new").exists()
    before = _snapshot(out)
    assert main(["evaluate", str(out), "--tasks", "100000000", "--force", "--quiet"]) == 2
    assert "eval.test_tasks (--tasks)" in _one_line_error(capsys)
    assert _snapshot(out) == before
    assert main(["train", str(cfg), "--out", str(tmp_path / "new"), "--quiet",
                 "--set", "env.max_episode_steps=3000000000"]) == 2
    assert "2**31 - 1" in _one_line_error(capsys)


# ------------------------------------------------------------------ --force and foreign files
@pytest.mark.parametrize(("foreign", "first"), [
    ("eval/thesis.tex", "eval/thesis.tex"), ("plots/paper_figure.pdf", "plots/paper_figure.pdf"),
    ("checkpoints/mine/best_by_hand.pt", "checkpoints/mine/"),
    ("checkpoints/reptile/best_by_hand.pt", "checkpoints/reptile/best_by_hand.pt"),
    ("notes/todo.txt", "notes/")])
def test_force_refuses_a_run_holding_a_users_file_at_any_depth(run, capsys, foreign, first):
    cfg, out = run
    path = out / foreign
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("mine")
    before = _snapshot(out)
    assert main(["train", str(cfg), "--out", str(out), "--force", "--quiet"]) == 2
    err = _one_line_error(capsys)
    assert f"it holds {first}" in err and "which no run writes" in err
    assert _snapshot(out) == before


def test_force_replaces_what_a_run_wrote(run, capsys):
    cfg, out = run
    assert main(["train", str(cfg), "--out", str(out), "--force", "--quiet", "--no-eval"]) == 0
    assert not (out / "eval").exists()


# ------------------------------------------------------------------ checkpoints that lie
def _resume(cfg, out):
    return main(["train", str(cfg), "--out", str(out), "--resume", "--quiet", "--no-eval"])


def _drop_last(out):
    """As if the run was killed before its last checkpoint: resumable from iteration 2."""
    (out / "checkpoints" / "reptile" / "iter_000003.pt").unlink()
    return out / "checkpoints" / "reptile" / "iter_000003.pt"


def test_a_checkpoint_without_the_expected_keys(run, capsys):
    cfg, out = run
    target = _drop_last(out)
    save_checkpoint({"iteration": 3, "theta": {}}, target)
    before = _snapshot(out)
    assert _resume(cfg, out) == 2
    err = _one_line_error(capsys)
    assert f"checkpoint {target} is not a metarl training checkpoint: it has no 'method'" in err
    assert "the newest intact checkpoint is iter_000002.pt" in err
    assert _snapshot(out) == before


def test_a_checkpoint_whose_tensors_have_other_shapes(run, capsys):
    cfg, out = run
    target = _drop_last(out)
    state = load_checkpoint(out / "checkpoints" / "reptile" / "iter_000002.pt")
    state["iteration"] = 3
    state["theta"]["actor.0.weight"] = torch.zeros(5, 2)
    save_checkpoint(state, target)
    before = _snapshot(out)
    assert _resume(cfg, out) == 2
    assert "parameter 'actor.0.weight' has shape (5, 2), this run's network (8, 2)" in \
        _one_line_error(capsys)
    assert _snapshot(out) == before
    # the evaluation checks the checkpoint it reads too
    assert main(["evaluate", str(out), "--force", "--quiet"]) == 2
    assert "has shape (5, 2)" in _one_line_error(capsys)
    assert _snapshot(out) == before


def test_another_runs_checkpoint_is_refused_and_overwrites_nothing(run, capsys, tmp_path):
    cfg, out = run
    other = tmp_path / "other"
    assert main(["train", str(cfg), "--out", str(other), "--quiet", "--no-eval",
                 "--set", "run.seed=1"]) == 0
    target = _drop_last(out)
    shutil.copy(other / "checkpoints" / "reptile" / "iter_000001.pt", target)  # renamed in
    before = _snapshot(out)
    assert _resume(cfg, out) == 2
    assert "holds meta-iteration 1, not the 3 its name says" in _one_line_error(capsys)
    assert _snapshot(out) == before  # iter_000002.pt and iter_000003.pt untouched
    shutil.copy(other / "checkpoints" / "reptile" / "iter_000003.pt", target)
    before = _snapshot(out)
    assert _resume(cfg, out) == 2
    assert "written with another config: run.seed is 1 there, 0 in this run" in \
        _one_line_error(capsys)
    assert _snapshot(out) == before


def test_a_corrupt_newest_checkpoint_names_the_intact_one_to_resume_from(run, capsys, tmp_path):
    cfg, out = run
    target = _drop_last(out)
    target.write_bytes(b"")
    assert _resume(cfg, out) == 2
    err = _one_line_error(capsys)
    assert "is empty (0 bytes): not a metarl checkpoint" in err
    assert "the newest intact checkpoint is iter_000002.pt: move iter_000003.pt out" in err
    target.write_bytes(b"\x80\x02garbage")
    assert _resume(cfg, out) == 2
    err = _one_line_error(capsys)
    assert "is not a metarl checkpoint" in err and "weights_only" not in err
    shutil.move(target, tmp_path / "corrupt.pt")  # as the message says
    assert _resume(cfg, out) == 0
    assert load_checkpoint(target)["iteration"] == 3


# ------------------------------------------------------------------ clearer messages
def test_resume_on_an_empty_folder_says_it_is_empty(run, capsys, tmp_path):
    cfg, _ = run
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", str(cfg), "--out", str(empty), "--resume", "--quiet"]) == 2
    assert f"run directory {empty} is empty: there is nothing to resume" in \
        _one_line_error(capsys)


@pytest.mark.parametrize(("name", "text", "said"), [
    ("summary.csv", "method,k,mean,ci95,tasks,seeds\nreptile,one,1.0,0.1,2,1\n",
     "summary.csv, line 2: k='one' is not an int"),
    ("summary.csv", "a,b\n1,2\n", "summary.csv, line 2: no 'method' column"),
    ("eval.toml", "[eval\n", "eval.toml is not an eval.toml metarl wrote"),
])
def test_plot_names_the_file_it_cannot_read(run, capsys, name, text, said):
    _, out = run
    (out / "eval" / name).write_text(text)
    assert main(["plot", str(out)]) == 2
    assert said in _one_line_error(capsys)


def test_a_later_methods_bad_checkpoint_is_found_before_anything_trains(tmp_path, capsys):
    """Resuming checks every method's newest checkpoint first: a corrupt pretraining one stops
    the command before Reptile trains and writes."""
    data = {**TINY, "eval": {**TINY["eval"], "methods": ["reptile", "scratch", "pretrain"]}}
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_config(config_from_dict(data)))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--quiet", "--no-eval"]) == 0
    _drop_last(out)  # reptile has one iteration to go
    (out / "checkpoints" / "pretrain" / "iter_000003.pt").write_bytes(b"")
    before = _snapshot(out)
    assert _resume(cfg, out) == 2
    assert "pretrain/iter_000003.pt is empty" in _one_line_error(capsys)
    assert _snapshot(out) == before  # reptile did not train on


def test_a_checkpoint_with_entries_of_the_wrong_type(run, capsys):
    cfg, out = run
    target = _drop_last(out)
    state = load_checkpoint(out / "checkpoints" / "reptile" / "iter_000002.pt")
    state["iteration"], state["config"] = 3, "not a config"
    save_checkpoint(state, target)
    assert _resume(cfg, out) == 2
    assert "its 'config' is a str: not a metarl training checkpoint" in _one_line_error(capsys)


def test_a_run_resumes_and_evaluates_with_another_memory_limit(run, capsys):
    """run.memory_limit is the machine's, not the experiment's: following the message's advice
    does not lock a run out of --resume, and metarl evaluate takes its own --memory-limit."""
    cfg, out = run
    _drop_last(out)
    assert main(["train", str(cfg), "--out", str(out), "--resume", "--quiet", "--no-eval",
                 "--set", "run.memory_limit=50"]) == 0
    assert main(["evaluate", str(out), "--force", "--quiet", "--memory-limit", "0.0001"]) == 2
    assert "0.0001 GB are available (run.memory_limit)" in _one_line_error(capsys)
    assert main(["evaluate", str(out), "--force", "--quiet", "--memory-limit", "50"]) == 0
