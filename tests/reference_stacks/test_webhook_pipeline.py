"""Stack assertions for the webhook pipeline (seed 000): ideal, baseline and context switches."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

SYSTEM = "webhook_pipeline"
FUNCTIONS = {"receiver": 10, "processor": 30, "notifier": 30}  # name -> timeout (s)
MAIN_QUEUES = ("priority", "standard", "notification")
NAME_PROPERTY = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::WAFv2::WebACL": "Name",
}


@pytest.fixture(scope="module")
def ideal(reference_template):
    return reference_template(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline(reference_template):
    return reference_template(SYSTEM, "baseline")


def resources(template, resource_type: str) -> dict:
    return template.find_resources(resource_type)


def props(template, resource_type: str) -> list[dict]:
    return [r.get("Properties", {}) for r in resources(template, resource_type).values()]


def logical_id(template, resource_type: str, **match) -> str:
    found = [
        lid for lid, r in resources(template, resource_type).items()
        if all(r["Properties"].get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, (resource_type, match, found)
    return found[0]


def alarms_by_name(template) -> dict[str, dict]:
    return {p["AlarmName"]: p for p in props(template, "AWS::CloudWatch::Alarm")}


def policy_statements(template) -> list[dict]:
    return [s for p in props(template, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# -- what both variants share (the seed's "done well" list) -------------------------------------


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_every_main_queue_has_its_own_dlq_with_retry_limit(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::SQS::Queue", 6)
    for key in MAIN_QUEUES:
        dlq_id = logical_id(template, "AWS::SQS::Queue", QueueName=f"webhook-{key}-dlq-{test_suffix}")
        template.has_resource(
            "AWS::SQS::Queue",
            {
                "Properties": {
                    "QueueName": f"webhook-{key}-{test_suffix}",
                    "VisibilityTimeout": 180,  # 6 x the consumer's 30 s timeout
                    "MessageRetentionPeriod": 4 * 86400,
                    "SqsManagedSseEnabled": True,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                        "maxReceiveCount": 3,
                    },
                },
                "DeletionPolicy": "Delete",
            },
        )
        template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": f"webhook-{key}-dlq-{test_suffix}",
                "MessageRetentionPeriod": 14 * 86400,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": Match.absent(),
            },
        )
    # TLS-only queue policies on all six queues.
    policies = props(template, "AWS::SQS::QueuePolicy")
    assert len(policies) == 6
    for policy in policies:
        statement = policy["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_event_source_mappings_chain_queues_to_functions(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 3)
    processor = logical_id(template, "AWS::Lambda::Function", FunctionName=f"webhook-processor-{test_suffix}")
    notifier = logical_id(template, "AWS::Lambda::Function", FunctionName=f"webhook-notifier-{test_suffix}")
    for key, function_id, batch_size, window in (
        ("priority", processor, 5, 1),
        ("standard", processor, 10, 5),
        ("notification", notifier, 10, 2),
    ):
        queue_id = logical_id(template, "AWS::SQS::Queue", QueueName=f"webhook-{key}-{test_suffix}")
        template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
                "FunctionName": {"Ref": function_id},
                "BatchSize": batch_size,
                "MaximumBatchingWindowInSeconds": window,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_functions_get_queue_urls_from_environment(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::Lambda::Function", 3)
    queue = {
        key: logical_id(template, "AWS::SQS::Queue", QueueName=f"webhook-{key}-{test_suffix}")
        for key in MAIN_QUEUES
    }
    expected = {
        "receiver": {"PRIORITY_QUEUE_URL": {"Ref": queue["priority"]}, "STANDARD_QUEUE_URL": {"Ref": queue["standard"]}},
        "processor": {"NOTIFICATION_QUEUE_URL": {"Ref": queue["notification"]}},
        "notifier": {"EVENT_BUS_NAME": "default", "EVENT_SOURCE": f"webhook-pipeline.{test_suffix}"},
    }
    for name, timeout in FUNCTIONS.items():
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "FunctionName": f"webhook-{name}-{test_suffix}",
                "Handler": f"{name}.handler",
                "Runtime": "python3.14",
                "Timeout": timeout,
                "MemorySize": Match.any_value(),
                "ReservedConcurrentExecutions": 100,
                "Environment": {"Variables": Match.object_like(expected[name])},
            },
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_log_groups_expire_and_functions_use_them(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.resource_count_is("AWS::Logs::LogGroup", 4)
    for lid, group in resources(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == 30, lid
        assert group["DeletionPolicy"] == "Delete", lid
    for name in FUNCTIONS:
        group_id = logical_id(template, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/webhook-{name}-{test_suffix}")
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {"FunctionName": f"webhook-{name}-{test_suffix}", "LoggingConfig": {"LogGroup": {"Ref": group_id}}},
        )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_iam_is_least_privilege(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    statements = policy_statements(template)
    assert statements
    for statement in statements:
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, statement
    for role in props(template, "AWS::IAM::Role"):
        for arn in role.get("ManagedPolicyArns", []):
            assert "AdministratorAccess" not in json.dumps(arn) and "PowerUser" not in json.dumps(arn)
    send = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    assert len(send) == 3  # receiver -> priority, standard; processor -> notification
    put_events = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert len(put_events) == 1
    assert "event-bus/default" in json.dumps(put_events[0]["Resource"])


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_api_receives_webhooks_behind_validator_waf_and_logs(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"Name": f"webhook-api-{test_suffix}", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "webhooks"})
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{provider}"})
    validator = logical_id(template, "AWS::ApiGateway::RequestValidator", ValidateRequestBody=True)
    receiver = logical_id(template, "AWS::Lambda::Function", FunctionName=f"webhook-receiver-{test_suffix}")
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "RequestValidatorId": {"Ref": validator},
            "RequestParameters": {"method.request.path.provider": True},
            "Integration": {
                "Type": "AWS_PROXY",
                "Uri": {"Fn::Join": ["", Match.array_with([{"Fn::GetAtt": [receiver, "Arn"]}])]},
            },
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {"ContentType": "application/json", "Schema": Match.object_like({"required": ["id", "type", "data"]})},
    )
    access_logs = logical_id(
        template, "AWS::Logs::LogGroup", LogGroupName=f"/aws/apigateway/webhook-api-access-{test_suffix}"
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": [access_logs, "Arn"]}, "Format": Match.any_value()},
            "MethodSettings": [
                Match.object_like(
                    {
                        "LoggingLevel": "INFO",
                        "MetricsEnabled": True,
                        "DataTraceEnabled": False,
                        "ThrottlingRateLimit": 100,
                        "ThrottlingBurstLimit": 200,
                    }
                )
            ],
        },
    )
    template.resource_count_is("AWS::ApiGateway::Account", 1)
    web_acl = logical_id(template, "AWS::WAFv2::WebACL", Name=f"webhook-api-waf-{test_suffix}")
    acl = resources(template, "AWS::WAFv2::WebACL")[web_acl]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["Name"] == (
        "AWSManagedRulesCommonRuleSet"
    )
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": 2000}
    assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
    stage = logical_id(template, "AWS::ApiGateway::Stage", StageName="v1")
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {
            "WebACLArn": {"Fn::GetAtt": [web_acl, "Arn"]},
            "ResourceArn": {"Fn::Join": ["", Match.array_with([{"Ref": stage}])]},
        },
    )


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_every_explicit_name_carries_the_suffix(reference_template, variant, test_suffix):
    template = reference_template(SYSTEM, variant)
    names = []
    for resource in template.to_json()["Resources"].values():
        if resource["Type"] in NAME_PROPERTY:
            names.append(resource["Properties"][NAME_PROPERTY[resource["Type"]]])
    assert len(names) == (41 if variant == "ideal" else 15)
    for name in names:
        assert isinstance(name, str) and test_suffix in name, name


@pytest.mark.parametrize("variant", ["ideal", "baseline"])
def test_outputs_have_descriptions_and_suffixed_exports(reference_template, variant, test_suffix):
    outputs = reference_template(SYSTEM, variant).to_json()["Outputs"]
    expected = {"ApiId", "ApiStageName", "ApiUrl", "WebhookEndpoint", "ApiAccessLogGroupName", "WebAclArn"}
    for key in MAIN_QUEUES:
        title = key.capitalize()
        expected |= {f"{title}QueueUrl", f"{title}QueueArn", f"{title}DlqUrl", f"{title}DlqArn"}
    for name in FUNCTIONS:
        expected |= {f"{name.capitalize()}FunctionName", f"{name.capitalize()}FunctionArn"}
    if variant == "ideal":
        expected.add("AlarmTopicArn")
    assert set(outputs) == expected
    for output_id, output in outputs.items():
        assert output["Description"], output_id
        export = output["Export"]["Name"]
        assert export.startswith("webhook-") and export.endswith(f"-{test_suffix}"), export
    assert outputs["PriorityDlqUrl"]["Export"]["Name"] == f"webhook-priority-dlq-url-{test_suffix}"


# -- ideal: alarms, topic, tracing ------------------------------------------------------------


def test_ideal_has_the_seeds_24_alarms_all_notifying_one_topic(ideal):
    ideal.resource_count_is("AWS::CloudWatch::Alarm", 24)
    ideal.resource_count_is("AWS::SNS::Topic", 1)
    topic_id = next(iter(resources(ideal, "AWS::SNS::Topic")))
    for name, alarm in alarms_by_name(ideal).items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", name
        assert alarm["AlarmDescription"], name


def test_ideal_function_alarms(ideal, test_suffix):
    alarms = alarms_by_name(ideal)
    for name, timeout in FUNCTIONS.items():
        function_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName=f"webhook-{name}-{test_suffix}")
        dimension = [{"Name": "FunctionName", "Value": {"Ref": function_id}}]

        error_rate = alarms[f"webhook-{name}-error-rate-{test_suffix}"]
        assert error_rate["Threshold"] == 5
        metrics = {m["Id"]: m for m in error_rate["Metrics"]}
        expression = next(m for m in error_rate["Metrics"] if "Expression" in m)["Expression"]
        assert "100 * part / total" in expression
        assert metrics["part"]["MetricStat"]["Metric"]["MetricName"] == "Errors"
        assert metrics["total"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
        assert metrics["part"]["MetricStat"]["Metric"]["Dimensions"] == dimension
        assert metrics["part"]["MetricStat"]["Stat"] == "Sum"

        throttles = alarms[f"webhook-{name}-throttles-{test_suffix}"]
        assert (throttles["MetricName"], throttles["Threshold"], throttles["Statistic"]) == ("Throttles", 0, "Sum")
        assert throttles["Dimensions"] == dimension

        duration = alarms[f"webhook-{name}-duration-{test_suffix}"]
        assert duration["MetricName"] == "Duration"
        assert duration["Threshold"] == timeout * 1000 * 0.8

        concurrency = alarms[f"webhook-{name}-concurrency-{test_suffix}"]
        assert (concurrency["MetricName"], concurrency["Threshold"]) == ("ConcurrentExecutions", 90)
        assert concurrency["Namespace"] == "AWS/Lambda" and concurrency["Dimensions"] == dimension


def test_ideal_queue_and_dlq_alarms(ideal, test_suffix):
    alarms = alarms_by_name(ideal)
    for key in MAIN_QUEUES:
        queue_name = {"Fn::GetAtt": [logical_id(ideal, "AWS::SQS::Queue", QueueName=f"webhook-{key}-{test_suffix}"), "QueueName"]}
        dlq_name = {"Fn::GetAtt": [logical_id(ideal, "AWS::SQS::Queue", QueueName=f"webhook-{key}-dlq-{test_suffix}"), "QueueName"]}
        age = alarms[f"webhook-{key}-queue-age-{test_suffix}"]
        assert (age["MetricName"], age["Threshold"]) == ("ApproximateAgeOfOldestMessage", 300)
        assert age["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
        depth = alarms[f"webhook-{key}-queue-depth-{test_suffix}"]
        assert (depth["MetricName"], depth["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 100)
        assert depth["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
        dlq = alarms[f"webhook-{key}-dlq-messages-{test_suffix}"]
        assert (dlq["MetricName"], dlq["Threshold"], dlq["EvaluationPeriods"]) == (
            "ApproximateNumberOfMessagesVisible", 0, 1
        )
        assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]


def test_ideal_api_alarms_use_rates_over_count_and_p99(ideal, test_suffix):
    alarms = alarms_by_name(ideal)
    for name, metric_name, threshold in (("4xx-rate", "4XXError", 10), ("5xx-rate", "5XXError", 1)):
        alarm = alarms[f"webhook-api-{name}-{test_suffix}"]
        assert alarm["Threshold"] == threshold
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        assert metrics["part"]["MetricStat"]["Metric"]["MetricName"] == metric_name
        assert metrics["total"]["MetricStat"]["Metric"]["MetricName"] == "Count"
        dimensions = {d["Name"] for d in metrics["total"]["MetricStat"]["Metric"]["Dimensions"]}
        assert dimensions == {"ApiName", "Stage"}
    latency = alarms[f"webhook-api-p99-latency-{test_suffix}"]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == ("Latency", "p99", 1000)


def test_ideal_alarm_topic_is_encrypted_with_a_rotating_key_cloudwatch_can_use(ideal, test_suffix):
    key_id = next(iter(resources(ideal, "AWS::KMS::Key")))
    ideal.has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": f"webhook-alarms-{test_suffix}", "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    key = resources(ideal, "AWS::KMS::Key")[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Delete"
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and "kms:GenerateDataKey*" in s["Action"]
        for s in key["Properties"]["KeyPolicy"]["Statement"]
    )
    ideal.resource_count_is("AWS::SNS::Subscription", 0)  # no alarm_email given


def test_ideal_traces_functions_and_api_with_xray_permissions(ideal):
    for function in props(ideal, "AWS::Lambda::Function"):
        assert function["TracingConfig"] == {"Mode": "Active"}, function["FunctionName"]
    ideal.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": True})
    xray = [
        p for p in props(ideal, "AWS::IAM::Policy")
        if any("xray:PutTraceSegments" in as_list(s["Action"]) for s in p["PolicyDocument"]["Statement"])
    ]
    assert len(xray) == 3  # one per function role


# -- context switches ----------------------------------------------------------------------------


def test_enable_alarms_false_removes_alarms_and_topic_but_keeps_tracing(reference_template):
    template = reference_template(SYSTEM, "ideal", enable_alarms="false")
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert "AlarmTopicArn" not in template.to_json()["Outputs"]
    template.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": True})


def test_enable_xray_false_removes_tracing_but_keeps_alarms(reference_template):
    template = reference_template(SYSTEM, "ideal", enable_xray=False)
    for function in props(template, "AWS::Lambda::Function"):
        assert "TracingConfig" not in function
    template.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": False})
    assert "xray:" not in json.dumps(policy_statements(template))
    template.resource_count_is("AWS::CloudWatch::Alarm", 24)


def test_alarm_email_subscribes_to_the_topic(reference_template):
    template = reference_template(SYSTEM, "ideal", alarm_email="oncall@example.com")
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    template.resource_count_is("AWS::SNS::Subscription", 1)
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": {"Ref": topic_id}},
    )


def test_alarm_email_must_be_an_address(test_suffix):
    from reference_stacks.app import build_app

    with pytest.raises(ValueError, match="alarm_email"):
        build_app(SYSTEM, "ideal", test_suffix, context={"alarm_email": "not-an-address"})


def test_context_switches_reach_the_stack(reference_stack):
    stack = reference_stack(SYSTEM, "ideal", enable_alarms="no", enable_xray="off")
    assert (stack.alarms_enabled, stack.xray_enabled, stack.alarm_topic, stack.alarms) == (False, False, None, [])
    default = reference_stack(SYSTEM, "ideal")
    assert (default.alarms_enabled, default.xray_enabled, len(default.alarms)) == (True, True, 24)


# -- baseline: the seed's initial gaps ----------------------------------------------------------


def test_baseline_has_no_alarms_and_no_alarm_topic(baseline):
    baseline.resource_count_is("AWS::CloudWatch::Alarm", 0)
    baseline.resource_count_is("AWS::SNS::Topic", 0)
    baseline.resource_count_is("AWS::SNS::Subscription", 0)
    baseline.resource_count_is("AWS::KMS::Key", 0)


def test_baseline_has_no_tracing_anywhere(baseline):
    for function in props(baseline, "AWS::Lambda::Function"):
        assert "TracingConfig" not in function
    baseline.has_resource_properties("AWS::ApiGateway::Stage", {"TracingEnabled": False})
    assert "xray:" not in json.dumps(policy_statements(baseline))


def test_baseline_ignores_the_ideals_context_switches(reference_template):
    template = reference_template(
        SYSTEM, "baseline", enable_alarms="true", enable_xray="true", alarm_email="oncall@example.com"
    )
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    for function in props(template, "AWS::Lambda::Function"):
        assert "TracingConfig" not in function
