"""The shared stack helpers: naming, outputs, functions, alarms, context flags."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_named_and_kebab():
    from reference_stacks.common import kebab, named

    assert named("payment-queue", "qa7") == "payment-queue-qa7"
    assert kebab("PaymentDLQUrl") == "payment-dlqurl"
    assert kebab("ApiEndpoint") == "api-endpoint"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, True), (True, True), (False, False), ("false", False), ("0", False), ("YES", True), ("on", True)],
)
def test_context_flag_accepts_cli_strings(raw, expected):
    import aws_cdk as cdk

    from reference_stacks.common import context_flag

    app = cdk.App(context={} if raw is None else {"enable_alarms": raw})
    assert context_flag(app, "enable_alarms", True) is expected


def test_context_flag_rejects_other_values():
    import aws_cdk as cdk

    from reference_stacks.common import context_flag

    with pytest.raises(ValueError, match="enable_xray.*true or false"):
        context_flag(cdk.App(context={"enable_xray": "maybe"}), "enable_xray", True)


def test_helpers_build_named_function_log_group_alarm_and_output(tmp_path: Path):
    import aws_cdk as cdk
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Match, Template

    from reference_stacks.common import add_output, handler_code, named, notified_alarm, python_function

    (tmp_path / "index.py").write_text("def handler(event, context):\n    return event\n")
    stack = cdk.Stack(cdk.App(), "HelperStack")
    code = handler_code(tmp_path)
    topic = sns.Topic(stack, "Topic")
    kept = python_function(
        stack, "Kept", code=code, handler="index.handler", function_name=named("kept", "qa7"),
        timeout=cdk.Duration.seconds(10), memory_size=256, tracing=True,
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    python_function(stack, "Implicit", code=code, handler="index.handler")
    notified_alarm(stack, "Errors", metric=kept.metric_errors(), threshold=1,
                   alarm_name=named("kept-errors", "qa7"), description="errors", topic=topic)
    notified_alarm(stack, "Silent", metric=kept.metric_throttles(), threshold=0,
                   alarm_name=named("kept-throttles", "qa7"), description="throttles", topic=None)
    add_output(stack, "KeptName", value=kept.function_name, description="the kept function",
               export_prefix="helper", environment_suffix="qa7")

    template = Template.from_stack(stack)
    # Only the function given a retention gets an explicit, expiring log group.
    template.resource_count_is("AWS::Logs::LogGroup", 1)
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": "/aws/lambda/kept-qa7", "RetentionInDays": 7}
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": "kept-qa7", "Runtime": "python3.12", "Timeout": 10, "MemorySize": 256,
         "TracingConfig": {"Mode": "Active"}},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmName": "kept-errors-qa7", "AlarmActions": [{"Ref": Match.any_value()}]}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmName": "kept-throttles-qa7", "AlarmActions": Match.absent()}
    )
    template.has_output("KeptName", {"Description": "the kept function",
                                     "Export": {"Name": "helper-kept-name-qa7"}})
    # Both functions share the one bundled asset (handler folder + lambda_shared).
    codes = {str(f["Properties"]["Code"]) for f in template.find_resources("AWS::Lambda::Function").values()}
    assert len(codes) == 1
