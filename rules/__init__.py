"""The rule catalogue: stackgrade's own production-readiness rules, one module each under ``catalogue/``.

:func:`all_rules` discovers them (no import-time registry, no hand-kept list):
every module in ``rules.catalogue`` defines exactly one ``RULE``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from rules.rule import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Every rule of the catalogue, sorted by id; duplicate ids or titles are an error."""
    from rules import catalogue

    found: list[Rule] = []
    for module_info in _catalogue_modules():
        module = importlib.import_module(f"{catalogue.__name__}.{module_info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise TypeError(f"{module.__name__} defines no RULE (every catalogue module holds one rule)")
        found.append(rule)
    for attribute, named in (("id", "an id"), ("title", "a title")):
        values = [getattr(r, attribute) for r in found]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValueError(f"rules share {named}: {duplicates}")
    return tuple(sorted(found, key=lambda r: r.id))


def rule_modules() -> dict[str, str]:
    """Rule id -> catalogue module name (fixtures live under the module's name)."""
    from rules import catalogue

    result = {}
    for module_info in _catalogue_modules():
        module = importlib.import_module(f"{catalogue.__name__}.{module_info.name}")
        result[module.RULE.id] = module_info.name
    return result


def _catalogue_modules() -> list[pkgutil.ModuleInfo]:
    from rules import catalogue

    return [m for m in pkgutil.iter_modules(catalogue.__path__) if not m.name.startswith("_")]


def known_rule_ids() -> frozenset[str]:
    """Every stackgrade rule id: Python catalogue, .guard and live rules alike (what ``rules = {...}`` may name)."""
    from rules.guard import guard_rules
    from rules.live import live_rules

    return frozenset(r.id for r in (*all_rules(), *guard_rules(), *live_rules()))
