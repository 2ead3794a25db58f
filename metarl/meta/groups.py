"""Meta-learned parameter groups: which parts of a network the outer loop moves.

Groups of :class:`metarl.agents.actor_critic.ActorCritic` (and of the regressor, which has only
``body`` and ``head``):

* ``body``: the actor's hidden layers;
* ``head``: the actor's output layer;
* ``log_std``: the Gaussian head's log-std (absent for Discrete actions);
* ``value``: every critic layer.
"""

from __future__ import annotations

from collections.abc import Iterable

from metarl.agents.param_tree import Params

GROUPS = ("body", "head", "log_std", "value")


def group_of(name: str, num_hidden: int) -> str:
    """The parameter group of parameter ``name`` of an actor-critic with ``num_hidden`` layers."""
    if name == "log_std":
        return "log_std"
    prefix, layer, _ = name.split(".")
    if prefix == "critic":
        return "value"
    return "head" if int(layer) == num_hidden else "body"


def names_in_groups(theta: Params, groups: Iterable[str], num_hidden: int) -> list[str]:
    """The names of ``theta``'s parameters that belong to ``groups`` (see the module docstring)."""
    groups = list(groups)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"groups has {unknown[0]!r}; expected some of {', '.join(GROUPS)}")
    return [k for k in theta if group_of(k, num_hidden) in groups]
