"""Property values as CloudFormation will see them, for the backup, encryption, api and waf rules.

A property can be a literal, a ``Ref`` to a parameter with a default, or an
``Fn::If`` whose branches differ (CDK's Kinesis default encrypts only outside
the China regions, through a condition). :func:`branches` lists every value a
property can take with the conditions that select it, and :func:`judge`
applies a check to each combination, so a rule fails when ANY deployable
branch is unprotected and says under which condition.
"""

from __future__ import annotations

from itertools import product
from typing import Any, Callable


NO_VALUE = {"Ref": "AWS::NoValue"}

# (conditions that select the branch, e.g. ("IsProd", "not IsChina"), the value; None when absent)
Branch = tuple[tuple[str, ...], Any]


def branches(value: Any, *path: str) -> list[Branch]:
    """Every value ``value[path...]`` can take, expanding ``Fn::If`` at each level of the path."""
    results: list[Branch] = []
    for conditions, current in _expand(value):
        if not path:
            results.append((conditions, current))
            continue
        child = current.get(path[0]) if isinstance(current, dict) else None
        for sub_conditions, leaf in branches(child, *path[1:]):
            results.append((conditions + sub_conditions, leaf))
    return results


def _expand(value: Any) -> list[Branch]:
    if value == NO_VALUE:
        return [((), None)]
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        arg = value["Fn::If"]
        if isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str):
            name, when_true, when_false = arg
            return ([((name,) + c, v) for c, v in _expand(when_true)]
                    + [((f"not {name}",) + c, v) for c, v in _expand(when_false)])
    return [((), value)]


def judge(check: Callable[..., str | None], *alternatives: list[Branch]) -> str | None:
    """The first failure of ``check`` over every consistent combination of branches, or None.

    ``check`` receives one value per alternative and returns a failure message or None. A failure
    that only some conditions select is qualified with them ("..., when condition X holds").
    """
    conditional: str | None = None
    for combination in product(*alternatives):
        conditions = tuple(dict.fromkeys(c for branch_conditions, _ in combination for c in branch_conditions))
        if _contradictory(conditions):
            continue
        message = check(*(value for _, value in combination))
        if message is None:
            continue
        if not conditions:
            return message
        if conditional is None:
            conditional = f"{message}, when {describe(conditions)}"
    return conditional


def _contradictory(conditions: tuple[str, ...]) -> bool:
    chosen = set(conditions)
    return any(f"not {c}" in chosen for c in chosen)


def describe(conditions: tuple[str, ...]) -> str:
    parts = [f"condition {c[4:]} is false" if c.startswith("not ") else f"condition {c} is true"
             for c in conditions]
    return " and ".join(parts)


def present(value: Any) -> bool:
    """The property is set to something other than an empty string."""
    return value is not None and value != "" and value != NO_VALUE
