"""payments_dr (seed 002): the ideal covers the seed's 15 items; the baseline has the seed's gaps."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from reference_stacks.common import Variant
from reference_stacks.payments_dr.stack import PaymentsDrProps, PaymentsDrStack

SYSTEM = "payments_dr"
SEED_OUTPUTS = (
    "PaymentsTableName", "PaymentsTableArn", "PaymentValidatorArn", "PaymentProcessorArn",
    "PaymentQueueUrl", "PaymentQueueArn", "PaymentDLQUrl", "APIEndpoint", "APIId",
    "OpsAlertTopicArn", "TransactionTopicArn", "DashboardName", "Region",
)
# Properties that carry a physical name, per resource type.
NAME_PROPERTIES = {
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::ApiGateway::RequestValidator": "Name",
    "AWS::WAFv2::WebACL": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::KMS::Alias": "AliasName",
}


@pytest.fixture(scope="module")
def ideal(reference_template) -> Template:
    return reference_template(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline(reference_template) -> Template:
    return reference_template(SYSTEM, "baseline")


def resources(template: Template, resource_type: str) -> dict:
    return template.find_resources(resource_type)


def only(template: Template, resource_type: str, **props) -> dict:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type} with {props}, found {len(found)}"
    return next(iter(found.values()))


def logical_id(template: Template, resource_type: str, **props) -> str:
    found = template.find_resources(resource_type, {"Properties": props})
    assert len(found) == 1, f"expected one {resource_type} with {props}, found {len(found)}"
    return next(iter(found))


def flatten(value) -> str:
    """The literal parts of an Fn::Join (enough to inspect a dashboard body)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(part if isinstance(part, str) else "<token>" for part in value["Fn::Join"][1])
    return json.dumps(value)


# --- ideal: data ------------------------------------------------------------------------------


def test_ideal_global_table_keys_billing_pitr_stream_replica_gsi(ideal):
    ideal.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    ideal.resource_count_is("AWS::DynamoDB::Table", 0)
    table = only(ideal, "AWS::DynamoDB::GlobalTable")
    props = table["Properties"]
    assert props["TableName"] == "payments-qa7"
    assert props["KeySchema"] == [
        {"AttributeName": "transaction_id", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "timestamp", "AttributeType": "N"} in props["AttributeDefinitions"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert sorted(replica["Region"] for replica in props["Replicas"]) == ["us-east-1", "us-east-2"]
    for replica in props["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "customer-index",
            "KeySchema": [
                {"AttributeName": "customer_id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["DeletionPolicy"] == "Delete"


def test_ideal_replication_needs_no_custom_resource(ideal):
    types = {resource["Type"] for resource in ideal.to_json()["Resources"].values()}
    assert not any(t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource" for t in types)
    assert len(resources(ideal, "AWS::Lambda::Function")) == 3


def test_ideal_stack_is_pinned_to_primary_region(reference_stack):
    stack = reference_stack(SYSTEM, "ideal")
    assert stack.region == "us-east-1"
    assert not cdk.Token.is_unresolved(stack.region)


def test_context_moves_primary_and_replica_regions(reference_template, reference_stack):
    template = reference_template(SYSTEM, "ideal", primary_region="eu-west-1", replica_region="eu-central-1")
    props = only(template, "AWS::DynamoDB::GlobalTable")["Properties"]
    assert sorted(r["Region"] for r in props["Replicas"]) == ["eu-central-1", "eu-west-1"]
    assert reference_stack(SYSTEM, "ideal", primary_region="eu-west-1", replica_region="eu-central-1").region == "eu-west-1"
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": "failover-orchestrator-qa7",
         "Environment": {"Variables": Match.object_like({"PRIMARY_REGION": "eu-west-1",
                                                         "REPLICA_REGION": "eu-central-1"})}},
    )


def test_replica_in_primary_region_is_rejected():
    with pytest.raises(ValueError, match="replica_region must differ"):
        PaymentsDrProps(primary_region="us-east-2", replica_region="us-east-2")


def test_props_from_context_and_explicit_props_win():
    app = cdk.App(context={"primary_region": "us-west-2", "replica_region": "us-west-1",
                           "enable_alarms": "false", "enable_waf": "no"})
    assert PaymentsDrProps.from_context(app) == PaymentsDrProps("us-west-2", "us-west-1", False, False)
    assert PaymentsDrProps.from_context(cdk.App()) == PaymentsDrProps()
    stack = PaymentsDrStack(app, "Explicit", variant=Variant.IDEAL, environment_suffix="qa7",
                            props=PaymentsDrProps(primary_region="ap-southeast-2", replica_region="ap-southeast-1"))
    assert stack.props.enable_alarms is True
    assert stack.region == "ap-southeast-2"
    assert len(stack.alarms) == 20


# --- ideal: queues ------------------------------------------------------------------------------


def test_ideal_payment_queue_dlq_encryption_and_visibility(ideal):
    dlq_id = logical_id(ideal, "AWS::SQS::Queue", QueueName="payment-dlq-qa7")
    only(ideal, "AWS::SQS::Queue", QueueName="payment-dlq-qa7", MessageRetentionPeriod=14 * 24 * 3600,
         SqsManagedSseEnabled=True)
    queue = only(ideal, "AWS::SQS::Queue", QueueName="payment-queue-qa7")["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 3}
    assert queue["SqsManagedSseEnabled"] is True
    processor = only(ideal, "AWS::Lambda::Function", FunctionName="payment-processor-qa7")["Properties"]
    # The seed's 300 s would break the 6x rule for a 60 s consumer; the stack uses 360 s.
    assert queue["VisibilityTimeout"] == 360 >= 6 * processor["Timeout"]
    assert queue["MessageRetentionPeriod"] <= 14 * 24 * 3600


def test_ideal_every_queue_encrypted_dlqs_keep_14_days(ideal):
    queues = resources(ideal, "AWS::SQS::Queue")
    assert len(queues) == 4
    for queue in queues.values():
        props = queue["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        assert "qa7" in props["QueueName"]
        assert queue["DeletionPolicy"] == "Delete"
        if "dlq" in props["QueueName"]:
            assert props["MessageRetentionPeriod"] == 1209600
            assert "RedrivePolicy" not in props
        else:
            assert "RedrivePolicy" in props
    # enforce_ssl: every queue has a policy denying insecure transport.
    assert len(resources(ideal, "AWS::SQS::QueuePolicy")) == 4


def test_ideal_processor_consumes_queue_with_partial_batch_failures(ideal):
    queue_id = logical_id(ideal, "AWS::SQS::Queue", QueueName="payment-queue-qa7")
    processor_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName="payment-processor-qa7")
    ideal.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    ideal.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": processor_id},
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


# --- ideal: functions and IAM ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "handler", "memory", "timeout", "env_keys"),
    [
        ("payment-validator-qa7", "validator.handler", 512, 30, {"PAYMENT_QUEUE_URL", "FRAUD_THRESHOLD"}),
        ("payment-processor-qa7", "processor.handler", 1024, 60, {"TABLE_NAME", "TRANSACTION_TOPIC_ARN"}),
        ("failover-orchestrator-qa7", "failover.handler", 256, 60,
         {"COORDINATION_TOPIC_ARN", "PRIMARY_REGION", "REPLICA_REGION", "TABLE_NAME"}),
    ],
)
def test_ideal_function_configuration(ideal, name, handler, memory, timeout, env_keys):
    function = only(ideal, "AWS::Lambda::Function", FunctionName=name)["Properties"]
    assert function["Handler"] == handler
    assert function["Runtime"] == "python3.14"
    assert function["MemorySize"] == memory
    assert function["Timeout"] == timeout
    assert function["TracingConfig"] == {"Mode": "Active"}
    variables = function["Environment"]["Variables"]
    assert env_keys | {"METRICS_NAMESPACE", "ENVIRONMENT_SUFFIX"} <= set(variables)
    assert variables["ENVIRONMENT_SUFFIX"] == "qa7"
    role_id = logical_id(ideal, "AWS::IAM::Role", RoleName="payment-lambda-role-qa7")
    assert function["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    log_group_id = logical_id(ideal, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{name}")
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    only(ideal, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{name}", RetentionInDays=7)


def test_ideal_functions_share_one_asset(ideal):
    keys = {f["Properties"]["Code"]["S3Key"] for f in resources(ideal, "AWS::Lambda::Function").values()}
    assert len(keys) == 1


@pytest.mark.parametrize("name", ["payment-validator-qa7", "payment-processor-qa7"])
def test_ideal_validator_and_processor_retry_twice(ideal, name):
    function_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName=name)
    ideal.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"FunctionName": {"Ref": function_id}, "MaximumRetryAttempts": 2}
    )


def test_ideal_role_statements_are_scoped(ideal):
    role = only(ideal, "AWS::IAM::Role", RoleName="payment-lambda-role-qa7")["Properties"]
    assert "ManagedPolicyArns" not in role
    table_id = logical_id(ideal, "AWS::DynamoDB::GlobalTable", TableName="payments-qa7")
    policy = only(ideal, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]
    by_sid = {s.get("Sid"): s for s in policy["Statement"]}
    assert by_sid["PaymentsTable"]["Resource"] == [
        {"Fn::GetAtt": [table_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/*"]]},
    ]
    assert "dynamodb:PutItem" in by_sid["PaymentsTable"]["Action"]
    assert "sqs:SendMessage" in by_sid["PaymentQueueSend"]["Action"]
    assert "sqs:ReceiveMessage" in by_sid["PaymentQueueConsume"]["Action"]
    assert by_sid["TransactionTopicPublish"]["Action"] == "sns:Publish"
    assert len(by_sid["FunctionLogs"]["Resource"]) == 3
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == "*":
            # Only X-Ray, which AWS grants on * alone.
            assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_no_managed_admin_policies_anywhere(ideal):
    for role in resources(ideal, "AWS::IAM::Role").values():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            text = json.dumps(arn)
            assert "AdministratorAccess" not in text and "PowerUserAccess" not in text


# --- ideal: SNS, KMS and failover -------------------------------------------------------------


def test_ideal_topics_encrypted_with_rotating_key(ideal):
    key_id = logical_id(ideal, "AWS::KMS::Key", EnableKeyRotation=True)
    assert ideal.to_json()["Resources"][key_id]["DeletionPolicy"] == "Delete"
    topics = resources(ideal, "AWS::SNS::Topic")
    assert {t["Properties"]["TopicName"] for t in topics.values()} == {
        "payment-ops-alerts-qa7", "payment-transactions-qa7"}
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key_policy = json.dumps(only(ideal, "AWS::KMS::Key")["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in key_policy


def test_ideal_failover_subscribed_to_ops_topic_with_dlq(ideal):
    ops_id = logical_id(ideal, "AWS::SNS::Topic", TopicName="payment-ops-alerts-qa7")
    failover_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName="failover-orchestrator-qa7")
    dlq_id = logical_id(ideal, "AWS::SQS::Queue", QueueName="failover-subscription-dlq-qa7")
    ideal.resource_count_is("AWS::SNS::Subscription", 1)
    ideal.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "lambda",
            "TopicArn": {"Ref": ops_id},
            "Endpoint": {"Fn::GetAtt": [failover_id, "Arn"]},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}},
        },
    )


def test_ideal_failover_async_invoke_has_on_failure_destination(ideal):
    failover_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName="failover-orchestrator-qa7")
    dlq_id = logical_id(ideal, "AWS::SQS::Queue", QueueName="failover-destination-dlq-qa7")
    ideal.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": failover_id},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}},
        },
    )


def test_ideal_coordination_goes_to_transaction_topic_not_back_to_ops(ideal):
    transactions_id = logical_id(ideal, "AWS::SNS::Topic", TopicName="payment-transactions-qa7")
    variables = only(ideal, "AWS::Lambda::Function", FunctionName="failover-orchestrator-qa7")[
        "Properties"]["Environment"]["Variables"]
    assert variables["COORDINATION_TOPIC_ARN"] == {"Ref": transactions_id}


# --- ideal: API ----------------------------------------------------------------------------------


def test_ideal_api_stage_throttling_logging_tracing(ideal):
    only(ideal, "AWS::ApiGateway::RestApi", Name="payment-api-qa7")
    log_group_id = logical_id(ideal, "AWS::Logs::LogGroup", LogGroupName="/aws/apigateway/payment-api-qa7")
    only(ideal, "AWS::Logs::LogGroup", LogGroupName="/aws/apigateway/payment-api-qa7", RetentionInDays=7)
    stage = only(ideal, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert stage["MethodSettings"] == [
        {
            "DataTraceEnabled": True,
            "HttpMethod": "*",
            "LoggingLevel": "INFO",
            "MetricsEnabled": True,
            "ResourcePath": "/*",
            "ThrottlingBurstLimit": 2000,
            "ThrottlingRateLimit": 1000,
        }
    ]
    ideal.resource_count_is("AWS::ApiGateway::Account", 1)


@pytest.mark.parametrize(("path", "function"), [("validate", "payment-validator-qa7"),
                                                  ("process", "payment-processor-qa7")])
def test_ideal_post_endpoints_invoke_lambda_with_request_validation(ideal, path, function):
    resource_id = logical_id(ideal, "AWS::ApiGateway::Resource", PathPart=path)
    validator_id = logical_id(ideal, "AWS::ApiGateway::RequestValidator", ValidateRequestBody=True)
    function_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName=function)
    method = only(ideal, "AWS::ApiGateway::Method", ResourceId={"Ref": resource_id})["Properties"]
    assert method["HttpMethod"] == "POST"
    assert method["RequestValidatorId"] == {"Ref": validator_id}
    assert "application/json" in method["RequestModels"]
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert function_id in json.dumps(method["Integration"]["Uri"])


def test_ideal_request_model_requires_payment_fields(ideal):
    schema = only(ideal, "AWS::ApiGateway::Model")["Properties"]["Schema"]
    assert schema["required"] == ["customer_id", "amount", "currency"]
    assert schema["properties"]["amount"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}


def test_ideal_health_endpoint_is_a_mock(ideal):
    resource_id = logical_id(ideal, "AWS::ApiGateway::Resource", PathPart="health")
    method = only(ideal, "AWS::ApiGateway::Method", ResourceId={"Ref": resource_id})["Properties"]
    assert method["HttpMethod"] == "GET"
    assert method["Integration"]["Type"] == "MOCK"
    assert method["Integration"]["IntegrationResponses"] == [
        {"StatusCode": "200", "ResponseTemplates": {"application/json": '{"status":"healthy"}'}}
    ]
    assert method["MethodResponses"] == [{"StatusCode": "200"}]


def test_ideal_waf_protects_the_stage(ideal):
    acl_id = logical_id(ideal, "AWS::WAFv2::WebACL", Name="payment-api-waf-qa7")
    acl = only(ideal, "AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "REGIONAL"
    statements = [rule["Statement"] for rule in acl["Rules"]]
    assert {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}} in statements
    assert any("RateBasedStatement" in s for s in statements)
    association = only(ideal, "AWS::WAFv2::WebACLAssociation")["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    stage_id = logical_id(ideal, "AWS::ApiGateway::Stage", StageName="prod")
    assert stage_id in json.dumps(association["ResourceArn"])


# --- ideal: monitoring --------------------------------------------------------------------------


def test_ideal_dashboard_has_four_widgets(ideal):
    dashboard = only(ideal, "AWS::CloudWatch::Dashboard", DashboardName="payment-dr-qa7")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    assert body.count('"type":"metric"') == 4
    for service in ("AWS/ApiGateway", "AWS/Lambda", "AWS/DynamoDB", "AWS/SQS"):
        assert service in body


@pytest.mark.parametrize(
    ("alarm_name", "metric", "namespace", "threshold", "operator"),
    [
        ("payment-api-5xx-qa7", "5XXError", "AWS/ApiGateway", 10, "GreaterThanOrEqualToThreshold"),
        ("payment-validator-errors-qa7", "Errors", "AWS/Lambda", 5, "GreaterThanOrEqualToThreshold"),
        ("payment-processor-errors-qa7", "Errors", "AWS/Lambda", 5, "GreaterThanOrEqualToThreshold"),
        ("failover-orchestrator-errors-qa7", "Errors", "AWS/Lambda", 5, "GreaterThanOrEqualToThreshold"),
        ("payments-table-read-throttles-qa7", "ReadThrottleEvents", "AWS/DynamoDB", 10,
         "GreaterThanOrEqualToThreshold"),
        ("payments-table-write-throttles-qa7", "WriteThrottleEvents", "AWS/DynamoDB", 10,
         "GreaterThanOrEqualToThreshold"),
        ("payment-dlq-messages-qa7", "ApproximateNumberOfMessagesVisible", "AWS/SQS", 0,
         "GreaterThanThreshold"),
    ],
)
def test_ideal_seed_alarms(ideal, alarm_name, metric, namespace, threshold, operator):
    ops_id = logical_id(ideal, "AWS::SNS::Topic", TopicName="payment-ops-alerts-qa7")
    alarm = only(ideal, "AWS::CloudWatch::Alarm", AlarmName=alarm_name)["Properties"]
    assert (alarm["MetricName"], alarm["Namespace"]) == (metric, namespace)
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == operator
    assert alarm["AlarmActions"] == [{"Ref": ops_id}]


@pytest.mark.parametrize(
    ("alarm_name", "threshold"),
    [("payment-validator-duration-qa7", 24000), ("payment-processor-duration-qa7", 48000),
     ("failover-orchestrator-duration-qa7", 48000)],
)
def test_ideal_duration_alarms_at_80_percent_of_timeout(ideal, alarm_name, threshold):
    alarm = only(ideal, "AWS::CloudWatch::Alarm", AlarmName=alarm_name)["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["Statistic"]) == ("Duration", threshold, "Maximum")


def test_ideal_production_rule_alarms(ideal):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(ideal, "AWS::CloudWatch::Alarm").values()}
    assert alarms["payment-api-4xx-qa7"]["MetricName"] == "4XXError"
    assert alarms["payment-api-p99-latency-qa7"]["ExtendedStatistic"] == "p99"
    assert alarms["payment-queue-age-qa7"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarms["payment-queue-depth-qa7"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    for name in ("payment-validator", "payment-processor", "failover-orchestrator"):
        assert alarms[f"{name}-throttles-qa7"]["MetricName"] == "Throttles"
    for dlq in ("failover-subscription-dlq", "failover-destination-dlq"):
        assert alarms[f"{dlq}-messages-qa7"]["Threshold"] == 0
        assert alarms[f"{dlq}-messages-qa7"]["Dimensions"][0]["Value"]["Fn::GetAtt"][1] == "QueueName"


def test_ideal_every_alarm_notifies_ops_topic(ideal):
    ops_id = logical_id(ideal, "AWS::SNS::Topic", TopicName="payment-ops-alerts-qa7")
    alarms = resources(ideal, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 20
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ops_id}]
        assert alarm["Properties"]["AlarmDescription"]


def test_ideal_processor_reserves_concurrency_and_alarms_near_it(ideal):
    processor = resources(ideal, "AWS::Lambda::Function")[logical_id(
        ideal, "AWS::Lambda::Function", FunctionName="payment-processor-qa7")]["Properties"]
    assert processor["ReservedConcurrentExecutions"] == 50
    ideal.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "payment-processor-concurrency-qa7",
        "MetricName": "ConcurrentExecutions",
        "Statistic": "Maximum",
        "Threshold": 45,
        "ComparisonOperator": "GreaterThanThreshold",
    })


def test_alarms_and_waf_can_be_switched_off(reference_template):
    template = reference_template(SYSTEM, "ideal", enable_alarms="false", enable_waf="false")
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::WAFv2::WebACL", 0)
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    outputs = template.to_json()["Outputs"]
    assert "WebAclArn" not in outputs
    assert set(SEED_OUTPUTS) <= set(outputs)


# --- ideal: outputs, names, lifecycle ---------------------------------------------------------


def test_ideal_outputs_have_descriptions_and_exports(ideal):
    outputs = ideal.to_json()["Outputs"]
    assert set(SEED_OUTPUTS) <= set(outputs)
    for extra in ("PaymentDLQArn", "FailoverOrchestratorArn", "FailoverSubscriptionDLQUrl",
                  "FailoverDestinationDLQUrl", "HealthCheckUrl", "PaymentsTableStreamArn", "WebAclArn"):
        assert extra in outputs
    for output_id, output in outputs.items():
        assert output.get("Description"), output_id
        name = output["Export"]["Name"]
        assert name.startswith("payments-") and name.endswith("-qa7"), name
    assert outputs["Region"]["Value"] == "us-east-1"
    assert outputs["PaymentsTableName"]["Export"]["Name"] == "payments-payments-table-name-qa7"
    # Acronyms are words in export names: PaymentDLQUrl -> payment-dlq-url.
    assert outputs["PaymentDLQUrl"]["Export"]["Name"] == "payments-payment-dlq-url-qa7"
    assert outputs["APIEndpoint"]["Export"]["Name"] == "payments-api-endpoint-qa7"
    assert outputs["APIId"]["Export"]["Name"] == "payments-api-id-qa7"


def test_ideal_every_explicit_name_carries_the_suffix(ideal):
    checked = 0
    for resource in ideal.to_json()["Resources"].values():
        prop = NAME_PROPERTIES.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            assert "qa7" in resource["Properties"][prop], resource["Properties"][prop]
            checked += 1
    assert checked >= 35


def test_ideal_log_groups_expire_and_are_destroyed(ideal):
    log_groups = resources(ideal, "AWS::Logs::LogGroup")
    assert len(log_groups) == 4
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == 7
        assert log_group["DeletionPolicy"] == "Delete"


# --- baseline -----------------------------------------------------------------------------------


def test_baseline_table_has_only_a_partition_key(baseline):
    baseline.resource_count_is("AWS::DynamoDB::GlobalTable", 0)
    table = only(baseline, "AWS::DynamoDB::Table", TableName="payments-qa7")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "transaction_id", "KeyType": "HASH"}]
    for missing in ("StreamSpecification", "PointInTimeRecoverySpecification", "GlobalSecondaryIndexes",
                    "BillingMode", "Replicas", "SSESpecification"):
        assert missing not in props
    # No removal policy: CDK's default keeps the table after stack deletion.
    assert table["DeletionPolicy"] == "Retain"


def test_baseline_has_one_stub_function_without_configuration(baseline):
    function = only(baseline, "AWS::Lambda::Function", FunctionName="payment-processor-qa7")["Properties"]
    assert function["Code"] == {"ZipFile": "def handler(event, context): return {'statusCode': 200}"}
    assert function["Handler"] == "index.handler"
    for missing in ("Timeout", "MemorySize", "Environment", "TracingConfig", "LoggingConfig"):
        assert missing not in function
    for absent in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping",
                   "AWS::Lambda::Permission", "AWS::Logs::LogGroup"):
        baseline.resource_count_is(absent, 0)


def test_baseline_queue_is_bare(baseline):
    queue = only(baseline, "AWS::SQS::Queue", QueueName="payment-queue-qa7")["Properties"]
    assert queue == {"QueueName": "payment-queue-qa7"}


def test_baseline_api_has_no_payment_endpoints_or_stage_settings(baseline):
    only(baseline, "AWS::ApiGateway::RestApi", Name="payment-api-qa7")
    baseline.resource_count_is("AWS::ApiGateway::Resource", 0)
    method = only(baseline, "AWS::ApiGateway::Method")["Properties"]
    assert (method["HttpMethod"], method["Integration"]) == ("ANY", {"Type": "MOCK"})
    stage = only(baseline, "AWS::ApiGateway::Stage")["Properties"]
    for missing in ("MethodSettings", "AccessLogSetting", "TracingEnabled"):
        assert missing not in stage
    for absent in ("AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator", "AWS::WAFv2::WebACL"):
        baseline.resource_count_is(absent, 0)


def test_baseline_lacks_iam_sns_monitoring(baseline):
    for absent in ("AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
                   "AWS::IAM::Policy", "AWS::KMS::Key"):
        baseline.resource_count_is(absent, 0)
    roles = resources(baseline, "AWS::IAM::Role")
    # Only CDK's defaults: the function's service role and API Gateway's CloudWatch role.
    assert len(roles) == 2
    assert not any("RoleName" in role["Properties"] for role in roles.values())


def test_baseline_outputs_only_cdk_default_endpoint(baseline):
    outputs = baseline.to_json()["Outputs"]
    assert len(outputs) == 1
    (output,) = outputs.values()
    assert "Description" not in output and "Export" not in output


def test_baseline_keeps_suffix_naming_and_stays_region_agnostic(baseline, reference_stack):
    checked = 0
    for resource in baseline.to_json()["Resources"].values():
        prop = NAME_PROPERTIES.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            assert resource["Properties"][prop].endswith("-qa7")
            checked += 1
    assert checked == 4
    assert cdk.Token.is_unresolved(reference_stack(SYSTEM, "baseline").region)
