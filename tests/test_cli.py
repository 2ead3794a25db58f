"""The metarl command line: envs listing and the demo run."""

import subprocess
import sys
from pathlib import Path

from metarl.cli import main


def test_envs_lists_families_parameters_and_splits(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for text in ("Navigation2D", "metarl/CartPoleMass-v0", "masspole", "log-uniform in [0.05, 1]",
                 "goal", "uniform in [-0.5, 0.5]^2", "test", "val", "train",
                 "metarl/CartPoleDirection-v0", "one of -1, 1, equally likely"):
        assert text in out


def test_train_with_a_bad_task_range_stops_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "run"
    config = Path(__file__).parents[1] / "experiments" / "cartpole_direction.toml"
    assert main(["train", str(config), "--out", str(out),
                 "--set", "env.ranges={direction=[0.2, 0.7]}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("range of direction=[0.2, 0.7] holds none of its values -1, 1")
    assert len(err.splitlines()) == 1 and not out.exists()


def test_demo_writes_plot_and_reports_returns(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--envs", "4"]) == 0
    out = capsys.readouterr().out
    assert "random policy" in out.lower() and "CartPoleMass" in out
    plot = tmp_path / "plots" / "random_navigation2d.png"
    assert plot.stat().st_size > 10_000
    before = plot.read_bytes()
    assert main(["demo", "--out", str(tmp_path), "--envs", "4"]) == 2  # never overwrites
    assert "exists; pass --force" in capsys.readouterr().err
    assert plot.read_bytes() == before
    assert main(["demo", "--out", str(tmp_path), "--envs", "4", "--force"]) == 0


def test_python_dash_m_entry_point_and_bad_command():
    ok = subprocess.run([sys.executable, "-m", "metarl", "envs"], capture_output=True, text=True)
    assert ok.returncode == 0 and "CartPoleMass" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "metarl", "fly"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
