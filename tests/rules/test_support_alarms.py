"""What the alarm fixtures (single valid templates) cannot show: exports between stacks, unreadable values."""

from __future__ import annotations

from checks.assembly import Assembly
from checks.config import StackgradeConfig
from checks.relations import Relations, alarm_metrics
from rules.rule import RuleContext
from rules.support.alarms import OTHER, SNS, Action, classify_action, number, render

ALARM = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {"EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold"},
}


def context(templates: dict[str, dict]) -> RuleContext:
    assembly = Assembly.from_templates(templates)
    return RuleContext(assembly, Relations(assembly), StackgradeConfig())


def test_metric_math_chosen_by_a_condition_is_not_read_as_queries():
    # Metrics: !If [Detailed, [...], [...]] is a mapping, not a list of queries: no metric is read from it.
    alarm = {**ALARM, "Properties": {**ALARM["Properties"], "Metrics": {"Fn::If": ["Detailed", [], []]}}}
    ctx = context({"App": {"Resources": {"Alarm": alarm}}})
    assert alarm_metrics(ctx.assembly.stacks[0].resources["Alarm"]) == []


def test_a_value_that_is_not_a_number_reads_as_none():
    ctx = context({"App": {"Parameters": {"Limit": {"Type": "String", "Default": "unlimited"}},
                           "Resources": {"Alarm": ALARM}}})
    stack = ctx.assembly.stacks[0]
    assert number(ctx, stack, {"Ref": "Limit"}) is None
    assert number(ctx, stack, True) is None
    assert number(ctx, stack, "80") == 80.0


def test_an_action_that_is_no_arn_and_names_nothing_in_the_app_is_other():
    # A topic name where an ARN belongs: it reaches no topic, and there is nothing left to resolve.
    ctx = context({"App": {"Resources": {"Alarm": ALARM}}})
    assert classify_action(ctx, ctx.assembly.stacks[0], "ops-alerts") == Action(OTHER, "ops-alerts")


def test_an_imported_topic_arn_is_rendered_from_the_exporting_stack():
    producer = {
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"AlertsArn": {
            "Value": {"Fn::Sub": ["arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${Topic}",
                                  {"Topic": "ops-alerts"}]},
            "Export": {"Name": "ops-alerts-arn"},
        }},
    }
    ctx = context({"Shared": producer, "App": {"Resources": {"Alarm": ALARM}}})
    consumer = ctx.assembly.stacks[1]
    expected = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:ops-alerts"
    assert render(ctx.assembly, consumer, {"Fn::ImportValue": "ops-alerts-arn"}) == expected
    assert classify_action(ctx, consumer, {"Fn::ImportValue": "ops-alerts-arn"}) == Action(SNS, expected)


def test_exports_that_import_each_other_render_as_unseen_instead_of_recursing():
    def exporting(name: str, imported: str) -> dict:
        return {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {"Out": {"Value": {"Fn::ImportValue": imported}, "Export": {"Name": name}}}}

    ctx = context({"A": exporting("a", "b"), "B": exporting("b", "a")})
    assert render(ctx.assembly, ctx.assembly.stacks[0], {"Fn::ImportValue": "a"}) == "${?}"


def test_a_sub_of_the_wrong_shape_renders_as_unseen():
    ctx = context({"App": {"Resources": {"Alarm": ALARM}}})
    stack = ctx.assembly.stacks[0]
    assert render(ctx.assembly, stack, {"Fn::Sub": ["arn:aws:sns:${Region}:1:t", "not-a-mapping"]}) == "${?}"
    assert render(ctx.assembly, stack, {"Fn::Sub": ["arn:aws:sns:${Region}:1:t", {"Region": "eu-west-1"}]}) \
        == "arn:aws:sns:eu-west-1:1:t"
