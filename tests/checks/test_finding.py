"""The finding: validation, a stable fingerprint, and its dictionary form."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from checks.finding import CATEGORIES, CATEGORY_OF_CONCERN, CONCERNS, SEVERITIES, Finding, SourceLocation, fingerprint


def make(**overrides) -> Finding:
    fields = dict(
        rule_id="SG-DLQ-001",
        title="SQS queues have a dead-letter queue",
        severity="high",
        category="reliability",
        concerns=("dlq",),
        engine="stackgrade",
        stack="Orders-ideal-qa7",
        logical_id="OrdersQueue1A2B3C4D",
        resource_type="AWS::SQS::Queue",
        construct_path="Orders-ideal-qa7/OrdersQueue/Resource",
        message="queue has no redrive policy",
        remediation="Set dead_letter_queue=...",
    )
    fields.update(overrides)
    return Finding(**fields)


def test_vocabularies():
    assert SEVERITIES == ("critical", "high", "medium", "low", "info")
    assert set(CATEGORY_OF_CONCERN) == set(CONCERNS)  # every concern has exactly one category
    assert CATEGORIES == ("reliability", "observability", "security", "operations", "cost")
    assert CATEGORY_OF_CONCERN["dlq"] == "reliability" and CATEGORY_OF_CONCERN["waf"] == "security"


@pytest.mark.parametrize("severity", ["HIGH", "error", "", None])
def test_invalid_severity_is_rejected(severity):
    with pytest.raises(ValueError) as error:
        make(severity=severity)
    assert str(error.value) == f"severity {severity!r} is not one of {SEVERITIES}"


def test_invalid_concerns_are_rejected():
    with pytest.raises(ValueError) as error:
        make(concerns=("dlq", "speed", "alarm"))
    assert str(error.value) == "concerns ['alarm', 'speed'] are not in the vocabulary"


def test_invalid_category_is_rejected():
    with pytest.raises(ValueError) as error:
        make(category="resilience")
    assert str(error.value) == f"category 'resilience' is not one of {CATEGORIES}"


def test_concerns_are_always_a_tuple():
    from_list = make(concerns=["dlq", "alarms"])
    assert from_list.concerns == ("dlq", "alarms")
    assert make(concerns="dlq").concerns == ("dlq",)  # one concern, not the letters d, l, q
    assert hash(from_list) == hash(make(concerns=("dlq", "alarms")))


def test_defaults():
    finding = make()
    assert finding.source is None
    assert finding.suppressed is False and finding.suppression_reason is None


def test_fingerprint_is_stable_and_depends_on_rule_stack_and_logical_id():
    finding = make()
    expected = hashlib.sha256("SG-DLQ-001\x1fOrders-ideal-qa7\x1fOrdersQueue1A2B3C4D".encode()).hexdigest()[:20]
    assert finding.fingerprint == expected == fingerprint("SG-DLQ-001", "Orders-ideal-qa7", "OrdersQueue1A2B3C4D")
    assert len(finding.fingerprint) == 20 and int(finding.fingerprint, 16) >= 0
    # the same finding in another run, with other words, still has the same fingerprint
    assert make(message="reworded", title="retitled", severity="low", construct_path=None).fingerprint == expected
    others = {
        make(rule_id="SG-DLQ-002").fingerprint,
        make(stack="Orders-ideal-prod").fingerprint,
        make(logical_id="PaymentsQueue9F8E7D6C").fingerprint,
        make(logical_id=None).fingerprint,
    }
    assert expected not in others and len(others) == 4


def test_fingerprint_of_a_stack_level_finding():
    finding = make(logical_id=None, resource_type=None, construct_path=None)
    assert finding.fingerprint == fingerprint("SG-DLQ-001", "Orders-ideal-qa7", None)
    assert finding.fingerprint == fingerprint("SG-DLQ-001", "Orders-ideal-qa7", "")
    # the separator keeps the parts apart: ("a", "bc") and ("ab", "c") differ
    assert fingerprint("a", "bc", None) != fingerprint("ab", "c", None)


def test_a_given_fingerprint_is_kept():
    assert make(fingerprint="0123456789abcdef0123").fingerprint == "0123456789abcdef0123"


def test_finding_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().severity = "low"  # type: ignore[misc]


def test_to_dict():
    finding = make(
        concerns=("dlq", "alarms"),
        source=SourceLocation("app/orders_stack.py", 42),
        suppressed=True,
        suppression_reason="legacy queue, tracked in OPS-12",
    )
    assert finding.to_dict() == {
        "rule_id": "SG-DLQ-001",
        "title": "SQS queues have a dead-letter queue",
        "severity": "high",
        "category": "reliability",
        "concerns": ["dlq", "alarms"],
        "engine": "stackgrade",
        "stack": "Orders-ideal-qa7",
        "logical_id": "OrdersQueue1A2B3C4D",
        "resource_type": "AWS::SQS::Queue",
        "construct_path": "Orders-ideal-qa7/OrdersQueue/Resource",
        "message": "queue has no redrive policy",
        "remediation": "Set dead_letter_queue=...",
        "source": {"file": "app/orders_stack.py", "line": 42},
        "suppressed": True,
        "suppression_reason": "legacy queue, tracked in OPS-12",
        "fingerprint": fingerprint("SG-DLQ-001", "Orders-ideal-qa7", "OrdersQueue1A2B3C4D"),
        "engines": ["stackgrade"],
        "also_reported_as": [],
    }
    assert make().to_dict()["source"] is None


def test_from_dict_round_trips():
    finding = make(
        concerns=("dlq",),
        source=SourceLocation("app/orders_stack.py", 42),
        engines=("stackgrade", "cdk-nag"),
        also_reported_as=("cdk-nag:AwsSolutions-SQS3",),
    )
    assert Finding.from_dict(finding.to_dict()) == finding
    assert Finding.from_dict(make().to_dict()) == make()
