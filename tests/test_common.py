"""The shared stack helpers: naming, outputs, functions, alarms, context flags."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_named():
    from reference_stacks.common import named

    assert named("payment-queue", "qa7") == "payment-queue-qa7"


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("PaymentQueueUrl", "payment-queue-url"),
        ("ApiEndpoint", "api-endpoint"),
        ("DLQUrl", "dlq-url"),
        ("PaymentDLQUrl", "payment-dlq-url"),
        ("APIEndpoint", "api-endpoint"),
        ("APIId", "api-id"),
        ("SNSTopicArn", "sns-topic-arn"),
        ("FailoverSubscriptionDLQUrl", "failover-subscription-dlq-url"),
        ("Api4xxAlarm", "api4xx-alarm"),
        ("WebAclArn", "web-acl-arn"),
        ("VPC", "vpc"),
    ],
)
def test_kebab_splits_words_and_acronyms(identifier, expected):
    from reference_stacks.common import kebab

    assert kebab(identifier) == expected


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
        {"FunctionName": "kept-qa7", "Runtime": "python3.14", "Timeout": 10, "MemorySize": 256,
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


def test_alarm_notification_key_and_encrypted_topics():
    import aws_cdk as cdk
    from aws_cdk.assertions import Match, Template

    from reference_stacks.common import alarm_notification_key, encrypted_topic

    stack = cdk.Stack(cdk.App(), "TopicStack")
    key = alarm_notification_key(stack, "Key", alias="alias/alarms-qa7", description="alarm topics")
    encrypted_topic(stack, "Alarms", topic_name="alarms-qa7", display_name="Alarms", key=key,
                    email="ops@example.com", removal_policy=cdk.RemovalPolicy.DESTROY)
    # One key may encrypt several topics.
    encrypted_topic(stack, "Events", topic_name="events-qa7", display_name="Events", key=key)
    encrypted_topic(stack, "Plain", topic_name="plain-qa7", display_name="Plain", key=None)
    scoped = alarm_notification_key(stack, "Scoped", description="scoped", pending_window=None,
                                    same_account_only=True)
    assert scoped.node.default_child.pending_window_in_days is None

    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 2)
    template.has_resource("AWS::KMS::Key", {
        "DeletionPolicy": "Delete",
        "Properties": {
            "Description": "alarm topics", "EnableKeyRotation": True, "PendingWindowInDays": 7,
            "KeyPolicy": {"Statement": Match.array_with([{
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Resource": "*",
            }])},
        },
    })
    template.has_resource_properties("AWS::KMS::Key", {
        "Description": "scoped",
        "PendingWindowInDays": Match.absent(),
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        })])},
    })
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/alarms-qa7"})
    key_ref = {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}
    template.has_resource("AWS::SNS::Topic", {
        "DeletionPolicy": "Delete",
        "Properties": {"TopicName": "alarms-qa7", "DisplayName": "Alarms", "KmsMasterKeyId": key_ref},
    })
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": "events-qa7", "KmsMasterKeyId": key_ref})
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": "plain-qa7", "KmsMasterKeyId": Match.absent()})
    # TLS-only topic policies for the two encrypted topics, none for the plain one.
    template.resource_count_is("AWS::SNS::TopicPolicy", 2)
    template.resource_count_is("AWS::SNS::Subscription", 1)
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_regional_web_acl_with_rule_builders_and_an_extra_rule():
    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigateway
    from aws_cdk import aws_wafv2 as wafv2
    from aws_cdk.assertions import Template

    from reference_stacks.common import common_rule_set_rule, rate_limit_rule, regional_web_acl, waf_visibility

    stack = cdk.Stack(cdk.App(), "WafStack")
    api = apigateway.RestApi(stack, "Api")
    api.root.add_method("GET")
    regional_web_acl(stack, "Acl", name="acl-qa7", stage=api.deployment_stage, rules=[
        common_rule_set_rule(priority=0, metric_name="common", count_rules=["SizeRestrictions_BODY"]),
        rate_limit_rule(priority=1, metric_name="rate"),
    ])
    regional_web_acl(stack, "Other", name="other-qa7", metric_name="otherAcl", association_id="OtherLink",
                     stage=api.deployment_stage, rules=[
                         rate_limit_rule(name="RateLimit", priority=0, metric_name="RateLimit", limit=500,
                                         evaluation_window_sec=300),
                         wafv2.CfnWebACL.RuleProperty(
                             name="GeoBlock", priority=1, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                             statement=wafv2.CfnWebACL.StatementProperty(
                                 geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(country_codes=["KP"])
                             ),
                             visibility_config=waf_visibility("GeoBlock"),
                         ),
                         common_rule_set_rule(priority=2, metric_name="AWSManagedRulesCommonRuleSet"),
                     ])

    template = Template.from_stack(stack)

    def visibility(metric):
        return {"CloudWatchMetricsEnabled": True, "MetricName": metric, "SampledRequestsEnabled": True}

    template.has_resource_properties("AWS::WAFv2::WebACL", {
        "Name": "acl-qa7", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
        "VisibilityConfig": visibility("acl-qa7"),
        "Rules": [
            {"Name": "AWSManagedRulesCommonRuleSet", "Priority": 0, "OverrideAction": {"None": {}},
             "Statement": {"ManagedRuleGroupStatement": {
                 "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet",
                 "RuleActionOverrides": [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]}},
             "VisibilityConfig": visibility("common")},
            {"Name": "RateLimitPerIp", "Priority": 1, "Action": {"Block": {}},
             "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}},
             "VisibilityConfig": visibility("rate")},
        ],
    })
    template.has_resource_properties("AWS::WAFv2::WebACL", {
        "Name": "other-qa7", "VisibilityConfig": visibility("otherAcl"),
        "Rules": [
            {"Name": "RateLimit", "Priority": 0, "Action": {"Block": {}},
             "Statement": {"RateBasedStatement": {"Limit": 500, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}},
             "VisibilityConfig": visibility("RateLimit")},
            {"Name": "GeoBlock", "Priority": 1, "Action": {"Block": {}},
             "Statement": {"GeoMatchStatement": {"CountryCodes": ["KP"]}}, "VisibilityConfig": visibility("GeoBlock")},
            {"Name": "AWSManagedRulesCommonRuleSet", "Priority": 2, "OverrideAction": {"None": {}},
             "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}},
             "VisibilityConfig": visibility("AWSManagedRulesCommonRuleSet")},
        ],
    })
    associations = template.find_resources("AWS::WAFv2::WebACLAssociation")
    assert {logical_id: props["Properties"]["WebACLArn"] for logical_id, props in associations.items()} == {
        "AclAssociation": {"Fn::GetAtt": ["Acl", "Arn"]},
        "OtherLink": {"Fn::GetAtt": ["Other", "Arn"]},
    }
    stage_ref = {"Ref": stack.get_logical_id(api.deployment_stage.node.default_child)}
    for props in associations.values():
        assert stage_ref in props["Properties"]["ResourceArn"]["Fn::Join"][1]
