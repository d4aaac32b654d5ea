"""rules.support.values: template numbers and booleans, numbers and lists in messages."""

from __future__ import annotations

import pytest

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.relations import Relations
from rules.rule import RuleContext
from rules.support import alarms, event_sources, iam
from rules.support.values import LISTED, either, flag, fmt, joined, listing, number, switch

PARAMETERS = {
    "Seconds": {"Type": "Number", "Default": 300},
    "Text": {"Type": "String", "Default": "five minutes"},
    "On": {"Type": "String", "Default": "True"},
    "Off": {"Type": "String", "Default": "false"},
    "Open": {"Type": "String"},
}


@pytest.fixture()
def ctx() -> RuleContext:
    assembly = Assembly.from_templates({"App": {"Parameters": PARAMETERS,
                                                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}})
    return RuleContext(assembly, Relations(assembly), StackgradeConfig())


@pytest.mark.parametrize(("value", "expected"), [
    (300, 300.0),
    (1.5, 1.5),
    ("300", 300.0),
    (" 42 ", 42.0),
    ({"Ref": "Seconds"}, 300.0),
    ({"Fn::Join": ["", ["3", "0"]]}, 30.0),
    ({"Ref": "Text"}, None),
    ({"Ref": "Open"}, None),
    ("five minutes", None),
    (True, None),
    (None, None),
    ({"Fn::GetAtt": ["Queue", "Arn"]}, None),
])
def test_number(ctx, value, expected):
    assert number(ctx, ctx.assembly.stacks[0], value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (True, True),
    (False, False),
    ("true", True),
    (" TRUE ", True),
    ("False", False),
    ({"Ref": "On"}, True),
    ({"Ref": "Off"}, False),
    ({"Ref": "Open"}, None),
    ({"Fn::GetAtt": ["Queue", "Arn"]}, None),
    ("yes", None),
    (1, None),
    (None, None),
])
def test_flag_is_none_whenever_the_template_does_not_say_true_or_false(ctx, value, expected):
    assert flag(ctx, ctx.assembly.stacks[0], value) is expected


def test_flag_reads_an_unset_property_as_absent(ctx):
    stack = ctx.assembly.stacks[0]
    assert flag(ctx, stack, None, absent=False) is False
    assert flag(ctx, stack, None, absent=True) is True
    assert flag(ctx, stack, "false", absent=True) is False
    assert flag(ctx, stack, {"Ref": "Open"}, absent=False) is None


@pytest.mark.parametrize(("value", "expected"), [
    (None, False),
    (True, True),
    (False, False),
    ("True", True),
    ("false", False),
    ("yes", False),
    (1, False),
    ({"Ref": "On"}, True),
    ({"Ref": "Off"}, False),
    ({"Ref": "Open"}, None),
    ({"Fn::GetAtt": ["Queue", "Arn"]}, None),
])
def test_switch_is_off_unless_literally_true_and_none_only_for_an_expression(ctx, value, expected):
    assert switch(ctx, ctx.assembly.stacks[0], value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (300.0, "300"),
    (300, "300"),
    (0.0, "0"),
    (-2.0, "-2"),
    (1.5, "1.5"),
    (0.1 + 0.2, "0.3"),
    (1234567.5, "1234567.5"),
    (1e-05, "1e-05"),
])
def test_fmt(value, expected):
    assert fmt(value) == expected


@pytest.mark.parametrize(("items", "expected"), [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "a and b"),
    (["a", "b", "c"], "a, b and c"),
    (["a", "b", "a", "c", "b"], "a, b and c"),
    (list("abcdefg"), "a, b, c, d, e, f and g"),
])
def test_joined_names_each_item_once_without_a_cap(items, expected):
    assert joined(items) == expected
    assert joined(iter(items)) == expected


def test_joined_with_a_limit_counts_what_it_leaves_out():
    assert joined(["a", "b", "c"], limit=2) == "a, b and 1 more"
    assert joined(["a", "b"], limit=2) == "a and b"
    assert joined(["a", "a", "b"], limit=1) == "a and 1 more"


@pytest.mark.parametrize(("items", "expected"), [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "a and b"),
    (["a", "b", "c", "d"], "a, b, c and d"),
    (["a", "b", "c", "d", "e"], "a, b, c, d and 1 more"),
    (["a", "b", "c", "d", "e", "f"], "a, b, c, d and 2 more"),
    (["a", "a", "b", "b", "c", "d"], "a, b, c and d"),
])
def test_listing_caps_at_four(items, expected):
    assert LISTED == 4
    assert listing(items) == expected
    assert listing(item for item in items) == expected


@pytest.mark.parametrize(("items", "expected"), [
    ([], ""),
    (["x"], "x"),
    (["x", "y"], "x or y"),
    (["x", "y", "z"], "x, y or z"),
    (["x", "y", "x"], "x or y"),
])
def test_either(items, expected):
    assert either(items) == expected


def test_the_support_modules_share_the_one_implementation():
    assert alarms.number is event_sources.number is number
    assert event_sources.flag is flag
    assert iam.listing is listing
