"""The mapping tables: every row valid, unmapped ids defaulted, and a broken table named with its problems."""

from __future__ import annotations

import pytest

from rules import mapping
from rules.mapping import UNMAPPED_CATEGORY, lookup, table


@pytest.mark.parametrize("engine", ["cdk-nag", "checkov", "cfn-guard"])
def test_each_shipped_table_is_valid_and_not_empty(engine):
    assert table(engine)["rules"]


def test_a_mapped_id_takes_its_row_and_the_category_of_its_first_concern():
    found = lookup("cdk-nag", "AwsSolutions-SQS3")
    assert found.mapped and "dlq" in found.concerns and found.category == "reliability"


def test_an_unmapped_id_gets_the_native_severity_or_the_default():
    assert lookup("cdk-nag", "AwsSolutions-NOPE99", "Error") == mapping.Mapping("high", UNMAPPED_CATEGORY, (), False)
    assert lookup("cdk-nag", "AwsSolutions-NOPE99", "Unheard-of").severity == "medium"
    assert lookup("no-such-engine", "X").mapped is False


def test_a_broken_table_lists_every_problem(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text(
        """
[native_severity]
Error = "severe"

[rules.A]
severity = "high"
concerns = ["dlq"]
colour = "red"

[rules.B]
severity = "urgent"
concerns = []

[rules.C]
severity = "low"
concerns = ["dlq"]
category = "vibes"
"""
    )
    monkeypatch.setattr(mapping, "TABLE_DIR", tmp_path)
    table.cache_clear()
    try:
        with pytest.raises(ValueError) as caught:
            table("broken")
    finally:
        table.cache_clear()
    text = str(caught.value)
    for problem in ("native_severity.Error: 'severe'", "rules.A: unknown keys ['colour']", "rules.B.severity: 'urgent'",
                    "rules.B.concerns: []", "rules.C.category: 'vibes'"):
        assert problem in text


def test_a_category_override_wins(tmp_path, monkeypatch):
    (tmp_path / "custom.toml").write_text('[rules.X]\nseverity = "low"\nconcerns = ["dlq"]\ncategory = "cost"\n')
    monkeypatch.setattr(mapping, "TABLE_DIR", tmp_path)
    table.cache_clear()
    try:
        assert lookup("custom", "X").category == "cost"
    finally:
        table.cache_clear()
