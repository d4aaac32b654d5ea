"""Small value helpers every rule family shares: template numbers and booleans, numbers and lists in messages.

Reading values (CloudFormation accepts ``"300"`` as well as ``300`` and ``"True"`` as
well as ``true``; a ``Ref`` to a parameter reads as the parameter's default):

- :func:`number`: a number, or None when the template does not tell it.
- :func:`flag`: a boolean, or None when the template does not tell it (an expression,
  or text that is neither true nor false); ``absent`` is what an unset property means.
- :func:`switch`: an on/off setting whose absence means off (tracing, metrics): anything
  literal but true is off, None only when an expression hides the value.

Writing messages:

- :func:`fmt`: ``300.0`` as ``300``, ``1.5`` as ``1.5``.
- :func:`joined` (``a, b and c``), :func:`listing` (the same, capped at
  :data:`LISTED` names with ``and N more``) and :func:`either` (``a, b or c``);
  each names an item once, in the order first given.
"""

from __future__ import annotations

from typing import Any, Iterable

from checks.assembly import Stack
from rules.rule import RuleContext

LISTED = 4  # how many names listing() shows before "and N more"
_BOOLEANS = {"true": True, "false": False}


# --- reading values ----------------------------------------------------------------------------


def number(ctx: RuleContext, stack: Stack, value: Any) -> float | None:
    """A numeric value (``300``, ``"300"``, a parameter's default), else None."""
    literal = ctx.assembly.literal(stack, value)
    if literal is None:
        return None
    try:
        return float(literal)
    except ValueError:
        return None


def flag(ctx: RuleContext, stack: Stack, value: Any, *, absent: bool | None = None) -> bool | None:
    """A boolean value (``true``, ``"True"``, a parameter's default); ``absent`` when unset, None when unknown."""
    if value is None:
        return absent
    if isinstance(value, bool):
        return value
    literal = ctx.assembly.literal(stack, value)
    return None if literal is None else _BOOLEANS.get(literal.strip().lower())


def switch(ctx: RuleContext, stack: Stack, value: Any) -> bool | None:
    """An on/off setting that is off unless literally true; None only when an expression hides it."""
    state = flag(ctx, stack, value, absent=False)
    if state is None and ctx.assembly.literal(stack, value) is not None:
        return False  # literal text other than true/false: not switched on
    return state


# --- writing messages --------------------------------------------------------------------------


def fmt(value: float) -> str:
    """``300.0`` as ``300``, ``1.5`` as ``1.5`` (at most 15 significant digits, so no float noise)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.15g}"


def joined(items: Iterable[str], limit: int | None = None) -> str:
    """``a``, ``a and b``, ``a, b and c``; with ``limit``, ``a, b, c, d and 2 more``."""
    return _series(items, "and", limit)


def listing(items: Iterable[str]) -> str:
    """:func:`joined`, capped at :data:`LISTED` names."""
    return _series(items, "and", LISTED)


def either(items: Iterable[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return _series(items, "or", None)


def _series(items: Iterable[str], conjunction: str, limit: int | None) -> str:
    names = list(dict.fromkeys(items))
    if limit is not None and len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"
