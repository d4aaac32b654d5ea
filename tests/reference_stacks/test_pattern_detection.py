"""Stack assertions for the pattern-detection reference system (seed 004): parent + five nested stacks."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Match, Template

SYSTEM = "pattern_detection"
NESTED = ("data", "compute", "api", "orchestration", "monitoring")
ALL_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::WAFv2::WebACL",
             "AWS::CodeDeploy::DeploymentGroup", "AWS::Lambda::Alias", "AWS::Lambda::LayerVersion")


# --- helpers ----------------------------------------------------------------------------------


def _render(value) -> str:
    """A CloudFormation string (maybe an ``Fn::Join``) as plain text, tokens replaced by ``TOKEN``."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else "TOKEN" for part in parts)


def _resources(template: Template, resource_type: str) -> dict:
    return template.find_resources(resource_type)


def _props(template: Template, resource_type: str) -> list[dict]:
    return [resource.get("Properties", {}) for resource in _resources(template, resource_type).values()]


def _one(template: Template, resource_type: str, **match) -> dict:
    found = [p for p in _props(template, resource_type) if all(p.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one {resource_type} with {match}, found {len(found)}"
    return found[0]


def _by_name(template: Template, resource_type: str, name_key: str) -> dict[str, dict]:
    return {_render(p[name_key]): p for p in _props(template, resource_type)}


def _definition(props: dict) -> dict:
    return json.loads(_render(props["DefinitionString"]))


def _all_states(states: dict) -> dict:
    """States of a definition including those inside Parallel branches and Map processors."""
    found = {}
    for name, state in states.items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_all_states(branch["States"]))
        if "ItemProcessor" in state:
            found.update(_all_states(state["ItemProcessor"]["States"]))
    return found


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ideal(reference_stack):
    return reference_stack(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline(reference_stack):
    return reference_stack(SYSTEM, "baseline")


@pytest.fixture(scope="module")
def parent(reference_template):
    return reference_template(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline_parent(reference_template):
    return reference_template(SYSTEM, "baseline")


def _nested_templates(stack) -> dict[str, Template]:
    return {name: Template.from_stack(getattr(stack, name)) for name in NESTED}


@pytest.fixture(scope="module")
def nested(ideal, parent):  # parent first: the parent's synthesis also resolves the nested stacks
    return _nested_templates(ideal)


@pytest.fixture(scope="module")
def baseline_nested(baseline, baseline_parent):
    return _nested_templates(baseline)


@pytest.fixture(scope="module")
def data(nested):
    return nested["data"]


@pytest.fixture(scope="module")
def compute(nested):
    return nested["compute"]


@pytest.fixture(scope="module")
def api(nested):
    return nested["api"]


@pytest.fixture(scope="module")
def orchestration(nested):
    return nested["orchestration"]


@pytest.fixture(scope="module")
def monitoring(nested):
    return nested["monitoring"]


# --- ideal: parent --------------------------------------------------------------------------


def test_ideal_parent_holds_exactly_five_nested_stacks(parent):
    parent.resource_count_is("AWS::CloudFormation::Stack", 5)
    prefixes = sorted(logical_id.split("NestedStack")[0] for logical_id in parent.to_json()["Resources"])
    assert prefixes == ["Api", "Compute", "Data", "Monitoring", "Orchestration"]


def test_ideal_nested_stacks_depend_on_each_other_in_the_seed_order(ideal, parent):
    ids = {name: ideal.get_logical_id(getattr(ideal, name).nested_stack_resource) for name in NESTED}
    resources = parent.to_json()["Resources"]
    depends = {name: set(resources[ids[name]].get("DependsOn", [])) for name in NESTED}
    assert depends["data"] == set()
    assert ids["data"] in depends["compute"]
    assert ids["compute"] in depends["api"]
    assert ids["compute"] in depends["orchestration"]
    assert {ids["api"], ids["orchestration"]} <= depends["monitoring"]


REQUIRED_OUTPUTS = {
    "TradingPatternsTableName", "ApprovalTrackingTableName", "AlertQueueUrl", "AlertQueueArn", "AlertDlqUrl",
    "AlertDlqArn", "PendingApprovalsQueueUrl", "PendingApprovalsQueueArn", "PendingApprovalsDlqUrl",
    "PendingApprovalsDlqArn", "TradingAlertsTopicArn", "ApprovalRequestsTopicArn", "AlarmTopicArn",
    "MarketDataStreamName", "MarketDataStreamArn", "DataKeyArn", "WafLogBucketName",
    "PatternDetectorFunctionName", "AlertProcessorFunctionName", "ThresholdCheckerFunctionName",
    "KinesisConsumerFunctionName", "ApprovalProcessorFunctionName", "PatternDetectorFunctionArn",
    "PatternDetectorAliasArn", "SharedLayerArn", "AsyncFailureQueueUrl", "CodeDeployApplicationName",
    "DeploymentGroupName", "ApiUrl", "ApiId", "ApiStageName", "ApiKeyId", "WebAclArn",
    "PatternAnalysisStateMachineArn", "PowerTuningStateMachineArn", "ThresholdCheckRuleName",
    "PatternAnalysisTriggerRuleName", "EventTargetDlqUrl", "DashboardName",
}


def test_ideal_outputs_surface_nested_values_with_descriptions_and_suffixed_exports(parent, test_suffix):
    outputs = parent.to_json()["Outputs"]
    assert set(outputs) == REQUIRED_OUTPUTS
    for output_id, output in outputs.items():
        assert output["Description"], output_id
        export = output["Export"]["Name"]
        assert export.startswith("patterns-") and export.endswith(f"-{test_suffix}"), export
    # Values come out of the nested stacks through Fn::GetAtt on their Outputs.
    assert "Fn::GetAtt" in json.dumps(outputs["TradingPatternsTableName"]["Value"])
    assert outputs["AlertQueueUrl"]["Export"]["Name"] == f"patterns-alert-queue-url-{test_suffix}"


def test_ideal_cost_allocation_tags_on_nested_stacks_and_their_resources(parent, nested, test_suffix):
    expected = {"Project": "StockPatternDetection", "Environment": test_suffix, "CostCenter": "trading-analytics"}
    for props in _props(parent, "AWS::CloudFormation::Stack"):
        assert {t["Key"]: t["Value"] for t in props["Tags"]} == expected
    checked = 0
    for resource_type in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Kinesis::Stream",
                          "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Lambda::Function",
                          "AWS::StepFunctions::StateMachine", "AWS::WAFv2::WebACL", "AWS::ApiGateway::RestApi",
                          "AWS::Logs::LogGroup", "AWS::IAM::Role"):
        for template in nested.values():
            for props in _props(template, resource_type):
                pairs = {t["Key"]: t["Value"] for t in props["Tags"]}
                assert {k: pairs.get(k) for k in expected} == expected, resource_type
                checked += 1
    assert checked > 40


NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName",
    "AWS::Kinesis::Stream": "Name", "AWS::Kinesis::StreamConsumer": "ConsumerName", "AWS::S3::Bucket": "BucketName",
    "AWS::KMS::Alias": "AliasName", "AWS::Lambda::Function": "FunctionName", "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::CodeDeploy::Application": "ApplicationName", "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::ApiGateway::RestApi": "Name", "AWS::ApiGateway::ApiKey": "Name",
    "AWS::ApiGateway::UsagePlan": "UsagePlanName",
    "AWS::ApiGateway::RequestValidator": "Name", "AWS::WAFv2::WebACL": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName", "AWS::Events::Rule": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName", "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def test_ideal_every_explicit_name_carries_the_suffix(nested, test_suffix):
    names = []
    for template in nested.values():
        for resource_type, key in NAME_PROPERTIES.items():
            for props in _props(template, resource_type):
                assert key in props, f"{resource_type} has no explicit {key}"
                names.append(_render(props[key]))
    assert len(names) > 70
    assert all(test_suffix in name for name in names), [n for n in names if test_suffix not in n]


# --- ideal: data ----------------------------------------------------------------------------


def test_ideal_tables_have_pitr_and_approval_ttl(data, test_suffix):
    tables = _by_name(data, "AWS::DynamoDB::Table", "TableName")
    assert set(tables) == {f"TradingPatterns-{test_suffix}", f"ApprovalTracking-{test_suffix}"}
    for props in tables.values():
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
    approvals = tables[f"ApprovalTracking-{test_suffix}"]
    assert approvals["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    patterns = tables[f"TradingPatterns-{test_suffix}"]
    assert patterns["KeySchema"] == [{"AttributeName": "patternId", "KeyType": "HASH"},
                                     {"AttributeName": "timestamp", "KeyType": "RANGE"}]
    for resource in _resources(data, "AWS::DynamoDB::Table").values():
        assert resource["DeletionPolicy"] == "Delete"


def test_ideal_four_queues_with_dlqs_and_visibility(data, test_suffix):
    data.resource_count_is("AWS::SQS::Queue", 4)
    queues = {_render(r["Properties"]["QueueName"]): (lid, r["Properties"])
              for lid, r in _resources(data, "AWS::SQS::Queue").items()}
    alert_id, alert = queues[f"AlertQueue-{test_suffix}"]
    pending_id, pending = queues[f"PendingApprovals-{test_suffix}"]
    alert_dlq_id, alert_dlq = queues[f"AlertQueueDLQ-{test_suffix}"]
    pending_dlq_id, pending_dlq = queues[f"PendingApprovalsDLQ-{test_suffix}"]
    assert alert["VisibilityTimeout"] == 180  # 6 x the alert processor's 30 s
    assert pending["VisibilityTimeout"] == 7200  # 2 h review window
    assert alert["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [alert_dlq_id, "Arn"]},
                                      "maxReceiveCount": 3}
    assert pending["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [pending_dlq_id, "Arn"]},
                                        "maxReceiveCount": 5}
    for dlq in (alert_dlq, pending_dlq):
        assert dlq["MessageRetentionPeriod"] == 1209600
        assert "RedrivePolicy" not in dlq
    for _lid, props in queues.values():
        assert props["SqsManagedSseEnabled"] is True


def test_ideal_topics_are_kms_encrypted_and_approvals_feed_the_pending_queue(data, test_suffix):
    topics = _by_name(data, "AWS::SNS::Topic", "TopicName")
    assert set(topics) == {f"TradingAlerts-{test_suffix}", f"AlertApprovalRequests-{test_suffix}",
                           f"PatternDetectionAlarms-{test_suffix}"}
    key_id = next(iter(_resources(data, "AWS::KMS::Key")))
    for props in topics.values():
        assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    subscription = _one(data, "AWS::SNS::Subscription", Protocol="sqs")
    assert subscription["RawMessageDelivery"] is True
    assert "deadLetterTargetArn" in subscription["RedrivePolicy"]


def test_ideal_stream_is_on_demand_24h_with_rotating_customer_key(data, test_suffix):
    key_id, key = next(iter(_resources(data, "AWS::KMS::Key").items()))
    assert key["Properties"]["EnableKeyRotation"] is True
    stream = _one(data, "AWS::Kinesis::Stream", Name=f"MarketDataStream-{test_suffix}")
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["RetentionPeriodHours"] == 24
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert "ShardCount" not in stream
    data.has_resource_properties("AWS::Kinesis::StreamConsumer",
                                 {"ConsumerName": f"MarketDataConsumer-{test_suffix}"})
    # CloudWatch may publish alarm notifications to the encrypted alarm topic.
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_ideal_waf_log_bucket_name_lifecycle_and_access(data, test_suffix):
    bucket_id, bucket = next(iter(_resources(data, "AWS::S3::Bucket").items()))
    props = bucket["Properties"]
    name = _render(props["BucketName"])
    assert name.startswith("aws-waf-logs-") and name.endswith(f"-{test_suffix}")
    rule = props["LifecycleConfiguration"]["Rules"][0]
    assert rule["Transitions"] == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]
    assert rule["Status"] == "Enabled"
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["DeletionPolicy"] == "Delete"
    data.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    policy = _one(data, "AWS::S3::BucketPolicy")
    sids = {s.get("Sid") for s in policy["PolicyDocument"]["Statement"]}
    assert {"AWSLogDeliveryWrite", "AWSLogDeliveryAclCheck"} <= sids


def test_alarm_email_context_subscribes_the_address(reference_stack):
    stack = reference_stack(SYSTEM, "ideal", alarm_email="oncall@example.com")
    Template.from_stack(stack)
    template = Template.from_stack(stack.data)
    template.has_resource_properties("AWS::SNS::Subscription",
                                     {"Protocol": "email", "Endpoint": "oncall@example.com"})


def test_ideal_without_alarm_email_has_only_the_queue_subscription(data):
    data.resource_count_is("AWS::SNS::Subscription", 1)


# --- ideal: compute -------------------------------------------------------------------------

FUNCTIONS = {
    "PatternDetector": ("pattern_detector.handler", 30, 1024),
    "AlertProcessor": ("alert_processor.handler", 30, 512),
    "ThresholdChecker": ("threshold_checker.handler", 60, 512),
    "KinesisConsumer": ("kinesis_consumer.handler", 60, 512),
    "ApprovalProcessor": ("approval_processor.handler", 10, 256),
}


def test_ideal_five_arm64_traced_functions_with_layer_and_log_groups(compute, test_suffix):
    compute.resource_count_is("AWS::Lambda::Function", 5)
    functions = _by_name(compute, "AWS::Lambda::Function", "FunctionName")
    layer_id = next(iter(_resources(compute, "AWS::Lambda::LayerVersion")))
    log_groups = {lid: p for lid, p in
                  ((lid, r["Properties"]) for lid, r in _resources(compute, "AWS::Logs::LogGroup").items())}
    for base, (handler, timeout, memory) in FUNCTIONS.items():
        props = functions[f"{base}-{test_suffix}"]
        assert props["Handler"] == handler
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Timeout"] == timeout and props["MemorySize"] == memory
        assert props["Layers"] == [{"Ref": layer_id}]
        assert props["Environment"]["Variables"]["METRICS_NAMESPACE"] == "StockPatternDetection"
        log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group_id]["LogGroupName"] == f"/aws/lambda/{base}-{test_suffix}"
        assert log_groups[log_group_id]["RetentionInDays"] == 30
    compute.has_resource_properties("AWS::Lambda::LayerVersion", {
        "LayerName": f"shared-dependencies-{test_suffix}", "CompatibleArchitectures": ["arm64"],
        "CompatibleRuntimes": ["python3.14"]})
    threshold_env = functions[f"ThresholdChecker-{test_suffix}"]["Environment"]["Variables"]
    assert threshold_env["ERROR_THRESHOLD"] == "5" and threshold_env["PATTERN_CONFIDENCE_THRESHOLD"] == "0.9"


def test_ideal_event_sources_report_failures_and_bound_retries(compute):
    sqs_mapping = _one(compute, "AWS::Lambda::EventSourceMapping", BatchSize=10)
    assert sqs_mapping["MaximumBatchingWindowInSeconds"] == 5
    assert sqs_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    kinesis = _one(compute, "AWS::Lambda::EventSourceMapping", BatchSize=100)
    assert kinesis["MaximumBatchingWindowInSeconds"] == 5
    assert kinesis["BisectBatchOnFunctionError"] is True
    assert kinesis["MaximumRetryAttempts"] == 3
    assert kinesis["MaximumRecordAgeInSeconds"] == 3600
    assert kinesis["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ConsumerARN" in json.dumps(kinesis["EventSourceArn"])  # enhanced fan-out consumer
    failures_id = next(iter(_resources(compute, "AWS::SQS::Queue")))
    assert kinesis["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}}}
    invoke_config = _one(compute, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [failures_id, "Arn"]}
    assert invoke_config["MaximumRetryAttempts"] == 2
    compute.has_resource_properties("AWS::SQS::Queue", {"MessageRetentionPeriod": 1209600,
                                                        "SqsManagedSseEnabled": True})


def test_ideal_canary_alias_codedeploy_and_rollback(compute, test_suffix):
    compute.has_resource_properties("AWS::Lambda::Alias", {"Name": "live", "FunctionVersion": Match.any_value()})
    compute.resource_count_is("AWS::Lambda::Version", 1)
    compute.has_resource_properties("AWS::CodeDeploy::Application", {
        "ApplicationName": f"pattern-detector-app-{test_suffix}", "ComputePlatform": "Lambda"})
    group = _one(compute, "AWS::CodeDeploy::DeploymentGroup")
    assert group["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert set(group["AutoRollbackConfiguration"]["Events"]) >= {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    assert group["AlarmConfiguration"]["Enabled"] is True
    canary_id = next(lid for lid, r in _resources(compute, "AWS::CloudWatch::Alarm").items()
                     if r["Properties"]["AlarmName"] == f"PatternDetectorCanaryErrors-{test_suffix}")
    assert group["AlarmConfiguration"]["Alarms"] == [{"Name": {"Ref": canary_id}}]
    canary = _one(compute, "AWS::CloudWatch::Alarm", AlarmName=f"PatternDetectorCanaryErrors-{test_suffix}")
    assert canary["Threshold"] == 2
    assert canary["ComparisonOperator"] == "GreaterThanThreshold"
    expression = next(m for m in canary["Metrics"] if "Expression" in m)
    assert "100 * errors / invocations" in expression["Expression"]
    assert json.dumps(canary["Metrics"]).count('":live"') == 2  # both metrics on the 'live' alias


def test_ideal_per_function_alarms_notify_the_alarm_topic(compute, test_suffix):
    alarms = _by_name(compute, "AWS::CloudWatch::Alarm", "AlarmName")
    assert len(alarms) == 17
    # The alert queue's consumer reserves concurrency, so it also alarms at 90 % of it.
    concurrency = alarms[f"AlertProcessor-concurrency-{test_suffix}"]
    assert (concurrency["MetricName"], concurrency["Threshold"], concurrency["Statistic"]) == (
        "ConcurrentExecutions", 18, "Maximum")
    assert _one(compute, "AWS::Lambda::Function", FunctionName=f"AlertProcessor-{test_suffix}")[
        "ReservedConcurrentExecutions"] == 20
    topic_param = next(p for p in compute.to_json()["Parameters"] if "AlarmTopic" in p)
    for name, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": topic_param}], name
    for base, (_handler, timeout, _memory) in FUNCTIONS.items():
        errors = alarms[f"{base}-errors-{test_suffix}"]
        assert (errors["MetricName"], errors["Threshold"], errors["Statistic"]) == ("Errors", 0, "Sum")
        assert alarms[f"{base}-throttles-{test_suffix}"]["MetricName"] == "Throttles"
        duration = alarms[f"{base}-duration-{test_suffix}"]
        assert duration["ExtendedStatistic"] == "p99"
        assert duration["Threshold"] == timeout * 1000 * 0.8


def test_ideal_function_policies_have_no_wildcard_actions_or_admin_policies(compute):
    for props in _props(compute, "AWS::IAM::Policy"):
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions)
            if statement["Resource"] == "*":
                assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    for props in _props(compute, "AWS::IAM::Role"):
        assert "AdministratorAccess" not in json.dumps(props.get("ManagedPolicyArns", []))


# --- ideal: api ---------------------------------------------------------------------------


def test_ideal_api_endpoints_validation_and_api_keys(api, test_suffix):
    api.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": f"pattern-detection-api-{test_suffix}"})
    methods = _props(api, "AWS::ApiGateway::Method")
    assert sorted(m["HttpMethod"] for m in methods) == ["GET", "POST", "POST"]
    validator_id = next(iter(_resources(api, "AWS::ApiGateway::RequestValidator")))
    api.has_resource_properties("AWS::ApiGateway::RequestValidator",
                                {"ValidateRequestBody": True, "ValidateRequestParameters": True})
    for method in methods:
        assert method["ApiKeyRequired"] is True
        assert method["RequestValidatorId"] == {"Ref": validator_id}
        assert method["Integration"]["Type"] == "AWS_PROXY"
    approve = next(m for m in methods if "method.request.path.token" in m.get("RequestParameters", {}))
    assert approve["RequestParameters"] == {"method.request.path.token": True}
    assert "RequestModels" in approve
    paths = {p["PathPart"] for p in _props(api, "AWS::ApiGateway::Resource")}
    assert paths == {"patterns", "alerts", "approve", "{token}"}
    api.resource_count_is("AWS::ApiGateway::Model", 2)
    api.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_ideal_stage_tracing_logging_throttling_and_canary(api):
    stage = _one(api, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert stage["CanarySetting"]["PercentTraffic"] == 10
    assert stage["CanarySetting"]["UseStageCache"] is False
    assert "DeploymentId" in stage["CanarySetting"]
    settings = stage["MethodSettings"][0]
    assert settings["MetricsEnabled"] is True and settings["LoggingLevel"] == "INFO"
    assert settings["ThrottlingRateLimit"] == 100 and settings["ThrottlingBurstLimit"] == 200
    log_group_id = next(iter(_resources(api, "AWS::Logs::LogGroup")))
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    api.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_ideal_waf_rules_logging_and_association(api, test_suffix):
    acl_id, acl = next(iter(_resources(api, "AWS::WAFv2::WebACL").items()))
    props = acl["Properties"]
    assert props["Name"] == f"PatternDetectionWAF-{test_suffix}" and props["Scope"] == "REGIONAL"
    assert props["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    assert len(rules) == 4
    rate = rules["RateLimit"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == (2000, "IP", 300)
    assert rules["GeoBlock"]["Statement"]["GeoMatchStatement"]["CountryCodes"] == ["CN", "RU", "KP"]
    managed = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert managed == {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}
    size = rules["ApiKeyHeaderSize"]["Statement"]["SizeConstraintStatement"]
    assert size["FieldToMatch"] == {"SingleHeader": {"Name": "x-api-key"}}
    assert (size["ComparisonOperator"], size["Size"]) == ("LT", 20)
    for name in ("RateLimit", "GeoBlock", "ApiKeyHeaderSize"):
        assert rules[name]["Action"] == {"Block": {}}
    for rule in rules.values():
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    logging = _one(api, "AWS::WAFv2::LoggingConfiguration")
    assert logging["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert "WafLogBucket" in json.dumps(logging["LogDestinationConfigs"])
    association = _one(api, "AWS::WAFv2::WebACLAssociation")
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert "/stages/" in _render(association["ResourceArn"])


def test_ideal_api_invoke_permissions_live_in_the_api_stack(api, compute):
    api.resource_count_is("AWS::Lambda::Permission", 6)
    compute.resource_count_is("AWS::Lambda::Permission", 0)


# --- ideal: orchestration -------------------------------------------------------------------


def test_ideal_analysis_workflow_express_traced_logged(orchestration, test_suffix):
    machines = _by_name(orchestration, "AWS::StepFunctions::StateMachine", "StateMachineName")
    analysis = machines[f"PatternAnalysisWorkflow-{test_suffix}"]
    assert analysis["StateMachineType"] == "EXPRESS"
    assert analysis["TracingConfiguration"] == {"Enabled": True}
    assert analysis["LoggingConfiguration"]["Level"] == "ALL"
    assert analysis["LoggingConfiguration"]["IncludeExecutionData"] is True
    orchestration.has_resource_properties("AWS::Logs::LogGroup", {
        "LogGroupName": f"/aws/vendedlogs/states/PatternAnalysisWorkflow-{test_suffix}", "RetentionInDays": 30})


def test_ideal_analysis_workflow_states_retries_and_catches(orchestration, test_suffix):
    machines = _by_name(orchestration, "AWS::StepFunctions::StateMachine", "StateMachineName")
    definition = _definition(machines[f"PatternAnalysisWorkflow-{test_suffix}"])
    states = definition["States"]
    assert definition["StartAt"] == "DataValidation"
    assert states["DataValidation"]["Next"] == "ParallelPatternDetection"
    parallel = states["ParallelPatternDetection"]
    assert parallel["Type"] == "Parallel" and parallel["Next"] == "ConfidenceScoring"
    assert [b["StartAt"] for b in parallel["Branches"]] == [
        "Detect-head-and-shoulders", "Detect-double-top", "Detect-ascending-triangle"]
    assert states["ConfidenceScoring"]["Next"] == "AlertDecision"
    assert states["AlertDecision"]["Next"] == "ShouldAlert"
    for name in ("DataValidation", "ParallelPatternDetection", "ConfidenceScoring", "AlertDecision", "QueueAlert"):
        assert states[name]["Catch"][0]["Next"] == "ManualReview", name
    tasks = {n: s for n, s in _all_states(states).items() if s["Type"] == "Task"}
    assert len(tasks) == 8  # validation, 3 detectors, scoring, decision, QueueAlert, ManualReview
    for name, task in tasks.items():
        retry = task["Retry"][0]
        assert (retry["MaxAttempts"], retry["BackoffRate"]) == (3, 2), name
        assert task["Catch"], name
    assert "sns:publish" in states["ManualReview"]["Resource"]


def test_ideal_power_tuning_workflow_over_five_memory_sizes(orchestration, test_suffix):
    machines = _by_name(orchestration, "AWS::StepFunctions::StateMachine", "StateMachineName")
    tuning = machines[f"PowerTuningWorkflow-{test_suffix}"]
    assert tuning["TracingConfiguration"] == {"Enabled": True}
    assert tuning["LoggingConfiguration"]["Level"] == "ALL"
    states = _all_states(_definition(tuning)["States"])
    assert states["MemoryConfigurations"]["Result"] == {"memorySizes": [512, 1024, 1536, 2048, 3008]}
    assert states["TestMemoryConfigurations"]["MaxConcurrency"] == 1
    assert states["SetTrialMemory"]["Resource"].endswith("aws-sdk:lambda:updateFunctionConfiguration")
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Retry"] and state["Catch"], name


def test_ideal_eventbridge_rules_with_dlq_and_retry_policy(orchestration, test_suffix):
    rules = _by_name(orchestration, "AWS::Events::Rule", "Name")
    schedule = rules[f"threshold-check-{test_suffix}"]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    trigger = rules[f"pattern-analysis-trigger-{test_suffix}"]
    assert trigger["EventPattern"]["source"] == ["stock.pattern.detection"]
    assert trigger["EventPattern"]["detail-type"] == ["PatternAnalysisRequested"]
    dlq_id = next(iter(_resources(orchestration, "AWS::SQS::Queue")))
    for rule in (schedule, trigger):
        target = rule["Targets"][0]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200}
    assert "PatternAnalysisWorkflow" in json.dumps(trigger["Targets"][0]["Arn"])


def test_ideal_manual_review_may_use_the_topic_key(orchestration):
    statements = [s for p in _props(orchestration, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]]
    assert any(s["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"] and "DataKey" in json.dumps(s["Resource"])
               for s in statements)


# --- ideal: monitoring ----------------------------------------------------------------------


def test_ideal_dashboard_has_fourteen_widgets_over_emf_metrics(monitoring, test_suffix):
    dashboard = _one(monitoring, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == f"PatternDetectionDashboard-{test_suffix}"
    body = json.loads(re.sub(r"TOKEN", "x", _render(dashboard["DashboardBody"])))
    assert len(body["widgets"]) == 14
    text = json.dumps(body)
    for metric in ("PatternDetectionDuration", "ConfidenceScore", "AlertPriority"):
        assert metric in text
    assert "StockPatternDetection" in text
    views = {w["properties"].get("view") for w in body["widgets"] if w["type"] == "metric"}
    assert {"timeSeries", "bar", "pie", "singleValue"} <= views


def test_ideal_anomaly_detection_alarm_on_detection_duration(monitoring, test_suffix):
    alarm = _one(monitoring, "AWS::CloudWatch::Alarm", AlarmName=f"PatternDetectionDurationAnomaly-{test_suffix}")
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"
    band = next(m for m in alarm["Metrics"] if "Expression" in m)
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(") and ", 2)" in band["Expression"]
    assert alarm["ThresholdMetricId"] == band["Id"]
    stat = next(m for m in alarm["Metrics"] if "MetricStat" in m)["MetricStat"]["Metric"]
    assert (stat["Namespace"], stat["MetricName"]) == ("StockPatternDetection", "PatternDetectionDuration")


def test_ideal_billing_alarm_at_100_usd(monitoring, test_suffix):
    alarm = _one(monitoring, "AWS::CloudWatch::Alarm", AlarmName=f"PatternDetectionBilling-{test_suffix}")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/Billing", "EstimatedCharges", 100)
    assert alarm["Dimensions"] == [{"Name": "Currency", "Value": "USD"}]


def test_ideal_monitoring_alarms_cover_queues_dlqs_tables_api_workflows(monitoring, test_suffix):
    alarms = _by_name(monitoring, "AWS::CloudWatch::Alarm", "AlarmName")
    assert len(alarms) == 18
    topic_param = next(p for p in monitoring.to_json()["Parameters"] if "AlarmTopic" in p)
    for name, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": topic_param}], name
    for dlq in ("AlertQueueDLQ", "PendingApprovalsDLQ", "AsyncFailures", "EventTargetDLQ"):
        props = alarms[f"{dlq}-messages-{test_suffix}"]
        assert (props["MetricName"], props["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert alarms[f"AlertQueue-age-{test_suffix}"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarms[f"PendingApprovals-depth-{test_suffix}"]["Threshold"] == 50
    assert alarms[f"PatternApi-5xx-{test_suffix}"]["MetricName"] == "5XXError"
    assert alarms[f"PatternApi-4xx-{test_suffix}"]["MetricName"] == "4XXError"
    assert alarms[f"PatternApi-p99-latency-{test_suffix}"]["ExtendedStatistic"] == "p99"
    for table in ("TradingPatterns", "ApprovalTracking"):
        assert "Metrics" in alarms[f"{table}-throttles-{test_suffix}"]
    for workflow in ("PatternAnalysisWorkflow", "PowerTuningWorkflow"):
        assert alarms[f"{workflow}-failed-{test_suffix}"]["MetricName"] == "ExecutionsFailed"
    assert alarms[f"KinesisConsumer-iterator-age-{test_suffix}"]["Threshold"] == 60000


# --- baseline -------------------------------------------------------------------------------


def test_baseline_has_the_same_five_nested_stacks(baseline_parent):
    baseline_parent.resource_count_is("AWS::CloudFormation::Stack", 5)


def test_baseline_nested_stacks_neither_depend_on_nor_reference_each_other(baseline_parent, baseline_nested):
    for resource in baseline_parent.to_json()["Resources"].values():
        assert "DependsOn" not in resource
        assert "Parameters" not in resource["Properties"]  # no cross-stack references
    for template in baseline_nested.values():
        assert not template.to_json().get("Parameters")


def test_baseline_uses_fixed_names_without_suffix(baseline_nested, test_suffix):
    data, compute = baseline_nested["data"], baseline_nested["compute"]
    assert set(_by_name(data, "AWS::DynamoDB::Table", "TableName")) == {"TradingPatterns", "ApprovalTracking"}
    assert set(_by_name(data, "AWS::SQS::Queue", "QueueName")) == {"AlertQueue", "PendingApprovals"}
    assert set(_by_name(compute, "AWS::Lambda::Function", "FunctionName")) == set(FUNCTIONS)
    baseline_nested["orchestration"].has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineName": "PatternAnalysisWorkflow"})
    names = [_render(props[key]) for template in baseline_nested.values()
             for resource_type, key in NAME_PROPERTIES.items()
             for props in _props(template, resource_type) if key in props]
    assert len(names) >= 14
    assert not [name for name in names if test_suffix in name]


def test_baseline_has_no_outputs_and_no_cost_tags(baseline_parent, baseline_nested):
    assert not baseline_parent.to_json().get("Outputs")
    for props in _props(baseline_parent, "AWS::CloudFormation::Stack"):
        assert "Tags" not in props
    assert "CostCenter" not in json.dumps(baseline_nested["data"].to_json())


def test_baseline_has_no_tracing_observability_or_deployment_safety(baseline_nested):
    for template in baseline_nested.values():
        for resource_type in ALL_TYPES:
            template.resource_count_is(resource_type, 0)
        template.resource_count_is("AWS::Logs::LogGroup", 0)
        assert "StockPatternDetection" not in json.dumps(template.to_json())
    for props in _props(baseline_nested["compute"], "AWS::Lambda::Function"):
        for key in ("TracingConfig", "LoggingConfig", "Layers", "Timeout", "MemorySize", "Architectures"):
            assert key not in props
        assert "METRICS_NAMESPACE" not in props["Environment"]["Variables"]
    stage = _one(baseline_nested["api"], "AWS::ApiGateway::Stage")
    assert "TracingEnabled" not in stage and "CanarySetting" not in stage and "AccessLogSetting" not in stage
    machine = _one(baseline_nested["orchestration"], "AWS::StepFunctions::StateMachine")
    assert "TracingConfiguration" not in machine and "LoggingConfiguration" not in machine
    assert machine.get("StateMachineType", "STANDARD") == "STANDARD"


def test_baseline_workflow_has_the_chain_but_no_retry_or_catch(baseline_nested):
    machine = _one(baseline_nested["orchestration"], "AWS::StepFunctions::StateMachine")
    states = _all_states(_definition(machine)["States"])
    assert {"DataValidation", "ParallelPatternDetection", "ConfidenceScoring", "AlertDecision"} <= set(states)
    for name, state in states.items():
        assert "Retry" not in state and "Catch" not in state, name
    baseline_nested["orchestration"].resource_count_is("AWS::Events::Rule", 0)


def test_baseline_queues_tables_and_api_lack_protection(baseline_nested):
    data, api = baseline_nested["data"], baseline_nested["api"]
    for props in _props(data, "AWS::SQS::Queue"):
        assert "RedrivePolicy" not in props
    for props in _props(data, "AWS::DynamoDB::Table"):
        assert "PointInTimeRecoverySpecification" not in props
    data.resource_count_is("AWS::KMS::Key", 0)
    data.resource_count_is("AWS::Kinesis::StreamConsumer", 0)
    api.resource_count_is("AWS::ApiGateway::RequestValidator", 0)
    api.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    for method in _props(api, "AWS::ApiGateway::Method"):
        assert not method.get("ApiKeyRequired")
    baseline_nested["compute"].resource_count_is("AWS::Lambda::EventSourceMapping", 0)
    # Monitoring is a placeholder topic nothing publishes to.
    monitoring = baseline_nested["monitoring"]
    assert list(monitoring.to_json()["Resources"].values())[0]["Type"] == "AWS::SNS::Topic"
    monitoring.resource_count_is("AWS::CloudWatch::Alarm", 0)
