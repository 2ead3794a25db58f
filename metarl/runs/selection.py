"""Which checkpoint of a trained method is evaluated: the last one, or the best on validation tasks.

More meta-training does not always adapt better: in MAML's Navigation2D protocol, Reptile's
validation return after 3 updates is -3.2 at meta-iteration 50 and -7.0 at 200, the last.
With ``eval.checkpoint = "best_val"``, every saved checkpoint of a method
(``checkpoints/<method>/iter_*.pt``, one per ``run.checkpoint_every`` meta-iterations) is adapted on
the family's validation tasks for k = 1..K inner updates, with the same inner learner, episodes per
update and generator seed as the evaluation; the checkpoint with the highest mean return over
k = 1..K (the area under its adaptation curve) is the one evaluated on the test tasks. The test
tasks are never looked at; ties go to the earlier checkpoint. The same rule applies to every
trained method (Reptile, first-order MAML and multi-task pretraining).

The scores are written to ``eval/selection.csv`` (``method,iteration,k,return``: mean over the
validation tasks) and the choice to the evaluation summary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch

from metarl.agents.param_tree import Params
from metarl.config import CHECKPOINT_RULES
from metarl.report.files import read_csv
from metarl.runs.checkpoint import check_theta, checkpoints_by_iteration, load_checkpoint
from metarl.runs.run_dir import RunDir

SELECTION_COLUMNS = ("method", "iteration", "k", "return")


class Selection(NamedTuple):
    """The checkpoint chosen for one method.

    :param method: the trained method.
    :param iteration: its meta-iteration.
    :param theta: its parameters (on the CPU).
    :param scores: ``{iteration: [K + 1] mean validation returns}`` of every checkpoint scored
        (empty under the ``last`` rule).
    :param rule: the adaptation rule that scored them where it is the method's own
        (``maml-vpg``), else ``None`` (the evaluation's learner).
    """

    method: str
    iteration: int
    theta: Params
    scores: dict[int, list[float]]
    rule: str | None = None

    def rows(self) -> list[dict[str, float | str | int]]:
        """``selection.csv`` rows of this method."""
        return [{"method": self.method, "iteration": it, "k": k, "return": round(r, 4)}
                for it, returns in self.scores.items() for k, r in enumerate(returns)]

    def describe(self) -> str:
        """One line: which checkpoint, and on what evidence."""
        if not self.scores:
            return f"{self.method}: last checkpoint (meta-iteration {self.iteration})"
        last = max(self.scores)
        by = f" by its own rule ({self.rule})" if self.rule else ""
        return (f"{self.method}: meta-iteration {self.iteration} of {last}, best of "
                f"{len(self.scores)} checkpoints on the validation tasks{by} (mean return over "
                f"k >= 1: {score(self.scores[self.iteration]):.2f}; last checkpoint "
                f"{score(self.scores[last]):.2f})")


def checkpoints(run: RunDir, method: str) -> dict[int, Path]:
    """``{meta-iteration: path}`` of every checkpoint of a trained method, in order."""
    found = checkpoints_by_iteration(run.checkpoints(method))
    if not found:
        listed = run.config.is_file() and (method == "reptile"
                                           or method in run.load_config().eval.methods)
        how = ("its training stopped before the first checkpoint: continue it with metarl "
               "train CONFIG --out RUN --resume" if listed
               else f"train it with '{method}' in eval.methods")
        raise ValueError(f"method {method!r} has no checkpoint in {run.path}; {how}")
    return found


def score(returns: list[float]) -> float:
    """The selection criterion: the mean of the returns after k = 1..K updates (``returns`` holds
    k = 0..K; with K = 0, the return before adapting); NaN (no finished episode) scores -inf."""
    after = returns[1:] or returns
    mean = sum(after) / len(after)
    return -math.inf if math.isnan(mean) else mean


def checkpoint_theta(path: Path, template: Params | None = None) -> Params:
    """The theta of the checkpoint at ``path``, checked against ``template``'s parameter names
    and shapes when given (a one-line ``ValueError`` naming the file)."""
    state = load_checkpoint(path)
    if "theta" not in state:
        raise ValueError(f"checkpoint {path} is not a metarl checkpoint: it has no 'theta'")
    if template is not None:
        check_theta(state["theta"], template, path)
    return state["theta"]  # type: ignore[no-any-return]


def select_checkpoint(run: RunDir, method: str, rule: str,
                      returns_of: Callable[[list[Params]], torch.Tensor] | None = None,
                      template: Params | None = None, own_rule: str | None = None
                      ) -> Selection:
    """The checkpoint of ``method`` to evaluate under ``rule``.

    :param rule: ``"last"`` or ``"best_val"``.
    :param returns_of: for ``best_val``: the ``[n, K + 1, T]`` returns of ``n`` thetas after
        k = 0..K updates on the validation tasks (the evaluation's inner learner, episodes and
        seed), given every checkpoint's theta at once so that a batched learner adapts them
        together.
    :param template: a theta of the run's network: every checkpoint read is checked against its
        parameter names and shapes.
    :param own_rule: the label of the method's own adaptation rule when ``returns_of`` adapts
        by it (named in :meth:`Selection.describe`).
    """
    if rule not in CHECKPOINT_RULES:
        raise ValueError(f"checkpoint rule {rule!r} must be one of {', '.join(CHECKPOINT_RULES)}")
    paths = checkpoints(run, method)
    if rule == "last":
        last = max(paths)
        return Selection(method, last, checkpoint_theta(paths[last], template), {})
    if returns_of is None:
        raise ValueError("eval.checkpoint='best_val' needs the validation returns of a theta")
    thetas = {iteration: checkpoint_theta(path, template) for iteration, path in paths.items()}
    returns = returns_of(list(thetas.values()))
    scores = {iteration: curve.mean(dim=1).tolist()
              for iteration, curve in zip(thetas, returns, strict=True)}
    best = max(scores, key=lambda it: (score(scores[it]), -it))  # ties: the earlier
    return Selection(method, best, thetas[best], scores, own_rule)


def evaluated_iteration(run: RunDir, method: str) -> int:
    """The meta-iteration of ``method`` that the run's last evaluation chose: the best on the
    validation tasks when it wrote ``eval/selection.csv`` (ties to the earlier), else the last
    checkpoint."""
    path = run.eval / "selection.csv"
    rows = [r for r in read_csv(path) if r["method"] == method] if path.exists() else []
    if not rows:
        return max(checkpoints(run, method))
    scores: dict[int, list[float]] = {}
    for r in rows:
        scores.setdefault(int(r["iteration"]), []).append(float(r["return"]))
    return max(scores, key=lambda it: (score(scores[it]), -it))


def final_theta(run: RunDir, method: str) -> Params:
    """The theta of a trained method's newest checkpoint (on the CPU)."""
    return select_checkpoint(run, method, "last").theta
