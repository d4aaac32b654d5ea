"""Scorecards shared by the HTML report's tests: the stored goldens, a hostile one, and an index set."""

from __future__ import annotations

import copy

import pytest

from reports import goldens

# Everything a template or an app could put in a string to break out of text, an attribute, a script or Jinja.
HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(2)></script>{{ 7*7 }}{% raw %}&amp;'x"


@pytest.fixture(scope="session")
def golden_cards() -> dict[str, dict]:
    """The frozen golden scorecards (real grades of the report fixtures); copy before changing one."""
    return goldens.stored_cards()


@pytest.fixture()
def hostile_card(golden_cards) -> dict:
    """The shop scorecard with the hostile string in every field a page shows or a script reads."""
    return hostile(golden_cards["shop"])


def hostile(scorecard: dict) -> dict:
    card = copy.deepcopy(scorecard)
    card["target"]["name"] = HOSTILE
    card["stacks"][0]["name"] = HOSTILE
    card["gate"]["reasons"] = [HOSTILE]
    card["gate"]["baseline"]["path"] = HOSTILE
    card["engines"][1].update(name=HOSTILE, error=HOSTILE, version=HOSTILE)
    card["unused_suppressions"] = [{"rule": HOSTILE, "resource": HOSTILE, "stack": HOSTILE, "reason": HOSTILE}]
    card["unmapped_rule_ids"] = {HOSTILE: [HOSTILE]}
    for finding in card["findings"]:
        finding.update(title=HOSTILE, message=HOSTILE, remediation=f"{HOSTILE} `{HOSTILE}`", stack=HOSTILE,
                       construct_path=f"{HOSTILE}/Resource", source={"file": HOSTILE, "line": 7},
                       resource_type=HOSTILE, also_reported_as=[HOSTILE])
        if finding["suppressed"]:
            finding.update(suppression_reason=HOSTILE, suppression_source=HOSTILE)
    first = card["findings"][0]
    first.update(rule_id=HOSTILE, severity=HOSTILE, category=HOSTILE, engines=[HOSTILE])
    return card


def as_reference(scorecard: dict, system: str, variant: str) -> dict:
    """A copy of ``scorecard`` labelled as a reference system's variant."""
    card = copy.deepcopy(scorecard)
    card["target"] = {"kind": "reference", "name": f"{system}-{variant}", "system": system, "variant": variant,
                      "assembly": f"build/cdk.out/{system}-{variant}"}
    return card


@pytest.fixture()
def index_cards(golden_cards) -> list[dict]:
    return index_set(golden_cards)


def index_set(golden_cards: dict[str, dict]) -> list[dict]:
    """Two reference systems (shop: the golden before/after grades; queues: an ideal only, passing) and an app."""
    app = copy.deepcopy(golden_cards["queues"])
    app["target"]["name"] = "my-app"
    ideal = as_reference(golden_cards["queues"], "queues", "ideal")
    ideal["gate"].update(passed=True, reasons=[])
    return [as_reference(golden_cards["shop-before"], "shop", "baseline"),
            as_reference(golden_cards["shop"], "shop", "ideal"), ideal, app]
