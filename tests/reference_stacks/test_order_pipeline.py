"""Template assertions for the order_pipeline reference system (seed 003), both variants."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from reference_stacks.order_pipeline.monitoring import THRESHOLDS

SYSTEM = "order_pipeline"

# Properties that hold a physical name chosen by the stack.
NAME_PROPERTIES = ("QueueName", "TableName", "TopicName", "FunctionName", "AlarmName", "LogGroupName", "Name")


@pytest.fixture(scope="module")
def ideal(reference_template) -> Template:
    return reference_template(SYSTEM, "ideal")


@pytest.fixture(scope="module")
def baseline(reference_template) -> Template:
    return reference_template(SYSTEM, "baseline")


def resources(template: Template, resource_type: str) -> dict[str, dict]:
    return template.find_resources(resource_type)


def one(template: Template, resource_type: str, **properties) -> tuple[str, dict]:
    """The single resource of a type whose properties include ``properties``."""
    found = template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {list(found)}"
    return next(iter(found.items()))


def logical_id(template: Template, resource_type: str, **properties) -> str:
    return one(template, resource_type, **properties)[0]


def alarms_by_name(template: Template, suffix: str) -> dict[str, dict]:
    return {
        body["Properties"]["AlarmName"].removesuffix(f"-{suffix}"): body["Properties"]
        for body in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def explicit_names(template: Template) -> list[tuple[str, str, str]]:
    """(resource, property, name) for every literal name; references to other resources are skipped."""
    names = []
    for resource_id, body in template.to_json()["Resources"].items():
        for prop in NAME_PROPERTIES:
            value = body.get("Properties", {}).get(prop)
            if isinstance(value, str):
                names.append((resource_id, prop, value))
    return names


# --------------------------------------------------------------------------- ideal


class TestIdealMessaging:
    def test_order_queue_redrives_to_dlq_after_three_receives(self, ideal, test_suffix):
        dlq_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-dlq-{test_suffix}")
        ideal.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": f"order-queue-{test_suffix}",
                "VisibilityTimeout": 300,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                    "maxReceiveCount": 3,
                },
                "SqsManagedSseEnabled": True,
            },
        )

    def test_dlq_keeps_messages_14_days_and_longer_than_the_source(self, ideal, test_suffix):
        _, dlq = one(ideal, "AWS::SQS::Queue", QueueName=f"order-dlq-{test_suffix}")
        _, queue = one(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert dlq["Properties"]["MessageRetentionPeriod"] >= queue["Properties"]["MessageRetentionPeriod"]
        assert dlq["Properties"]["SqsManagedSseEnabled"] is True
        assert "RedrivePolicy" not in dlq["Properties"]

    def test_queues_deny_insecure_transport(self, ideal):
        policies = resources(ideal, "AWS::SQS::QueuePolicy")
        assert len(policies) == 2
        for policy in policies.values():
            statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
            assert statement["Effect"] == "Deny"
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    def test_visibility_timeout_is_at_least_six_times_the_processor_timeout(self, ideal, test_suffix):
        _, queue = one(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        _, processor = one(ideal, "AWS::Lambda::Function", FunctionName=f"order-processor-{test_suffix}")
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * processor["Properties"]["Timeout"]

    def test_event_source_mapping_batches_and_reports_item_failures(self, ideal, test_suffix):
        ideal.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
        queue_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        processor_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName=f"order-processor-{test_suffix}")
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

    def test_topics_are_kms_encrypted_with_a_rotating_key_cloudwatch_may_use(self, ideal, test_suffix):
        ideal.resource_count_is("AWS::SNS::Topic", 2)
        ideal.resource_count_is("AWS::KMS::Key", 1)
        key_id, key = one(ideal, "AWS::KMS::Key")
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "Delete"
        assert {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": "*",
        } in key["Properties"]["KeyPolicy"]["Statement"]
        for name in ("order-events", "order-alarms"):
            ideal.has_resource_properties(
                "AWS::SNS::Topic",
                {"TopicName": f"{name}-{test_suffix}", "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
            )


class TestIdealTable:
    def test_partition_key_gsi_and_pitr(self, ideal, test_suffix):
        ideal.resource_count_is("AWS::DynamoDB::Table", 1)
        ideal.has_resource(
            "AWS::DynamoDB::Table",
            {
                "Properties": {
                    "TableName": f"orders-{test_suffix}",
                    "KeySchema": [{"AttributeName": "orderId", "KeyType": "HASH"}],
                    "AttributeDefinitions": Match.array_with(
                        [
                            {"AttributeName": "orderId", "AttributeType": "S"},
                            {"AttributeName": "customerId", "AttributeType": "S"},
                            {"AttributeName": "timestamp", "AttributeType": "S"},
                        ]
                    ),
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "CustomerIdIndex",
                            "KeySchema": [
                                {"AttributeName": "customerId", "KeyType": "HASH"},
                                {"AttributeName": "timestamp", "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                },
                "DeletionPolicy": "Delete",
            },
        )


class TestIdealFunctions:
    def test_two_functions_share_one_code_asset(self, ideal):
        functions = resources(ideal, "AWS::Lambda::Function")
        assert len(functions) == 2
        assert len({json.dumps(f["Properties"]["Code"], sort_keys=True) for f in functions.values()}) == 1

    def test_processor_configuration(self, ideal, test_suffix):
        table_id = logical_id(ideal, "AWS::DynamoDB::Table")
        topic_id = logical_id(ideal, "AWS::SNS::Topic", TopicName=f"order-events-{test_suffix}")
        ideal.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "FunctionName": f"order-processor-{test_suffix}",
                "Handler": "order_processor.handler",
                "Runtime": "python3.14",
                "Timeout": 30,
                "MemorySize": 512,
                "ReservedConcurrentExecutions": 100,
                "TracingConfig": {"Mode": "Active"},
                "Environment": {
                    "Variables": {
                        "ORDERS_TABLE_NAME": {"Ref": table_id},
                        "ORDER_TOPIC_ARN": {"Ref": topic_id},
                        "METRICS_NAMESPACE": "OrderPipeline",
                    }
                },
            },
        )

    def test_api_handler_configuration(self, ideal, test_suffix):
        queue_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        _, handler = one(ideal, "AWS::Lambda::Function", FunctionName=f"order-api-handler-{test_suffix}")
        props = handler["Properties"]
        assert props["Handler"] == "api_handler.handler"
        assert props["Timeout"] == 10 and props["MemorySize"] == 256
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Environment"]["Variables"]["ORDER_QUEUE_URL"] == {"Ref": queue_id}
        assert "ReservedConcurrentExecutions" not in props

    @pytest.mark.parametrize("function", ["order-processor", "order-api-handler"])
    def test_function_logs_to_an_explicit_one_week_group(self, ideal, test_suffix, function):
        name = f"{function}-{test_suffix}"
        _, fn = one(ideal, "AWS::Lambda::Function", FunctionName=name)
        group_id = logical_id(ideal, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{name}")
        assert fn["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group_id}}
        ideal.has_resource(
            "AWS::Logs::LogGroup",
            {"Properties": {"LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": 7}, "DeletionPolicy": "Delete"},
        )

    def test_no_log_retention_custom_resource(self, ideal):
        ideal.resource_count_is("Custom::LogRetention", 0)

    def test_every_log_group_expires_and_is_destroyed(self, ideal):
        groups = resources(ideal, "AWS::Logs::LogGroup")
        assert len(groups) == 3  # two functions and the API access logs
        for group in groups.values():
            assert group["Properties"]["RetentionInDays"] == 7
            assert group["DeletionPolicy"] == "Delete"

    def test_processor_may_write_the_table_and_publish_but_not_the_api_handler(self, ideal, test_suffix):
        table_id = logical_id(ideal, "AWS::DynamoDB::Table")
        topic_id = logical_id(ideal, "AWS::SNS::Topic", TopicName=f"order-events-{test_suffix}")
        queue_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        policies = {
            body["Properties"]["Roles"][0]["Ref"]: body["Properties"]["PolicyDocument"]["Statement"]
            for body in resources(ideal, "AWS::IAM::Policy").values()
        }
        processor_role = one(ideal, "AWS::Lambda::Function", FunctionName=f"order-processor-{test_suffix}")[1][
            "Properties"]["Role"]["Fn::GetAtt"][0]
        handler_role = one(ideal, "AWS::Lambda::Function", FunctionName=f"order-api-handler-{test_suffix}")[1][
            "Properties"]["Role"]["Fn::GetAtt"][0]
        processor = json.dumps(policies[processor_role])
        handler = json.dumps(policies[handler_role])
        assert "dynamodb:PutItem" in processor and table_id in processor
        assert "sns:Publish" in processor and topic_id in processor
        assert "sqs:SendMessage" in handler and queue_id in handler
        assert "dynamodb" not in handler and "sns:Publish" not in handler

    def test_iam_policies_use_star_only_for_xray(self, ideal):
        for body in resources(ideal, "AWS::IAM::Policy").values():
            for statement in body["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions)
                if statement["Resource"] == "*":
                    assert all(a.startswith("xray:") for a in actions), statement


class TestIdealApi:
    def test_post_orders_goes_to_the_api_handler_not_the_processor(self, ideal, test_suffix):
        handler_id = logical_id(ideal, "AWS::Lambda::Function", FunctionName=f"order-api-handler-{test_suffix}")
        _, method = one(ideal, "AWS::ApiGateway::Method", HttpMethod="POST")
        uri = json.dumps(method["Properties"]["Integration"]["Uri"])
        assert handler_id in uri and "OrderProcessor" not in uri
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"
        for permission in resources(ideal, "AWS::Lambda::Permission").values():
            assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [handler_id, "Arn"]}

    def test_post_is_validated_against_the_order_model(self, ideal, test_suffix):
        validator_id, validator = one(ideal, "AWS::ApiGateway::RequestValidator")
        model_id, model = one(ideal, "AWS::ApiGateway::Model")
        assert validator["Properties"]["ValidateRequestBody"] is True
        assert validator["Properties"]["Name"] == f"order-body-validator-{test_suffix}"
        assert model["Properties"]["ContentType"] == "application/json"
        assert model["Properties"]["Schema"]["required"] == ["orderId", "customerId", "items"]
        assert model["Properties"]["Schema"]["properties"]["items"]["minItems"] == 1
        ideal.has_resource_properties(
            "AWS::ApiGateway::Method",
            {
                "HttpMethod": "POST",
                "RequestValidatorId": {"Ref": validator_id},
                "RequestModels": {"application/json": {"Ref": model_id}},
            },
        )

    def test_prod_stage_logs_traces_meters_and_throttles(self, ideal, test_suffix):
        access_logs_id = logical_id(
            ideal, "AWS::Logs::LogGroup", LogGroupName=f"/aws/apigateway/order-api-access-{test_suffix}"
        )
        ideal.has_resource_properties(
            "AWS::ApiGateway::Stage",
            {
                "StageName": "prod",
                "TracingEnabled": True,
                "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": [access_logs_id, "Arn"]}, "Format": Match.any_value()},
                "MethodSettings": [
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "LoggingLevel": "INFO",
                        "DataTraceEnabled": True,
                        "MetricsEnabled": True,
                        "ThrottlingRateLimit": 500,
                        "ThrottlingBurstLimit": 1000,
                    }
                ],
            },
        )

    def test_regional_waf_with_common_rules_and_rate_limit_on_the_stage(self, ideal, test_suffix):
        acl_id, acl = one(ideal, "AWS::WAFv2::WebACL")
        props = acl["Properties"]
        assert props["Scope"] == "REGIONAL" and props["Name"] == f"order-api-waf-{test_suffix}"
        rules = {rule["Name"]: rule for rule in props["Rules"]}
        assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"] == {
            "VendorName": "AWS",
            "Name": "AWSManagedRulesCommonRuleSet",
        }
        assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"] == {"Limit": 2000, "AggregateKeyType": "IP"}
        assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
        stage_id = logical_id(ideal, "AWS::ApiGateway::Stage")
        _, association = one(ideal, "AWS::WAFv2::WebACLAssociation")
        assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
        assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]

    def test_default_endpoint_output_is_replaced(self, ideal):
        assert not any(name.startswith("OrderApiEndpoint") for name in ideal.to_json()["Outputs"])


# (alarm name without suffix) -> (namespace, metric, statistic, threshold, evaluation periods, dimension target)
EXPECTED_ALARMS = {
    # The seed's four.
    "order-processor-errors": ("AWS/Lambda", "Errors", "Sum", THRESHOLDS["function_errors"], 1, "order-processor"),
    "order-processor-throttles": ("AWS/Lambda", "Throttles", "Sum", 1, 1, "order-processor"),
    "order-dlq-messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1, 1, "order-dlq"),
    "order-queue-depth": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1000, 2, "order-queue"),
    # Added by the production rules.
    "order-processor-duration": ("AWS/Lambda", "Duration", "p99", 24000, 1, "order-processor"),
    "order-processor-concurrency": ("AWS/Lambda", "ConcurrentExecutions", "Maximum", 80, 1, "order-processor"),
    "order-api-handler-errors": ("AWS/Lambda", "Errors", "Sum", THRESHOLDS["function_errors"], 1, "order-api-handler"),
    "order-api-handler-throttles": ("AWS/Lambda", "Throttles", "Sum", 1, 1, "order-api-handler"),
    "order-api-handler-duration": ("AWS/Lambda", "Duration", "p99", 8000, 1, "order-api-handler"),
    "order-queue-age": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 600, 1, "order-queue"),
    "order-api-5xx": ("AWS/ApiGateway", "5XXError", "Sum", 5, 1, "order-api"),
    "order-api-4xx": ("AWS/ApiGateway", "4XXError", "Sum", 100, 1, "order-api"),
    "order-api-latency": ("AWS/ApiGateway", "Latency", "p99", 3000, 3, "order-api"),
    "orders-table-read-throttles": ("AWS/DynamoDB", "ReadThrottleEvents", "Sum", 1, 1, "orders"),
    "orders-table-write-throttles": ("AWS/DynamoDB", "WriteThrottleEvents", "Sum", 1, 1, "orders"),
}


class TestIdealAlarms:
    def test_alarm_set(self, ideal, test_suffix):
        ideal.resource_count_is("AWS::CloudWatch::Alarm", len(EXPECTED_ALARMS))
        assert set(alarms_by_name(ideal, test_suffix)) == set(EXPECTED_ALARMS)

    def test_seed_alarms_keep_the_seed_construct_ids(self, ideal):
        ids = set(resources(ideal, "AWS::CloudWatch::Alarm"))
        for prefix in ("OrderProcessorErrors", "OrderProcessorThrottles", "DLQMessagesAlarm", "QueueDepthAlarm"):
            assert any(i.startswith(prefix) for i in ids), prefix

    def _dimension_target(self, ideal, suffix, target):
        """The value the alarm's dimension must hold for ``target``."""
        if target in ("order-processor", "order-api-handler"):
            return {"Ref": logical_id(ideal, "AWS::Lambda::Function", FunctionName=f"{target}-{suffix}")}
        if target in ("order-queue", "order-dlq"):
            return {"Fn::GetAtt": [logical_id(ideal, "AWS::SQS::Queue", QueueName=f"{target}-{suffix}"), "QueueName"]}
        if target == "orders":
            return {"Ref": logical_id(ideal, "AWS::DynamoDB::Table")}
        return f"{target}-{suffix}"  # the API's name

    @pytest.mark.parametrize("name", sorted(EXPECTED_ALARMS))
    def test_alarm_metric_threshold_and_action(self, ideal, test_suffix, name):
        namespace, metric, statistic, threshold, periods, target = EXPECTED_ALARMS[name]
        alarm = alarms_by_name(ideal, test_suffix)[name]
        topic_id = logical_id(ideal, "AWS::SNS::Topic", TopicName=f"order-alarms-{test_suffix}")
        assert alarm["Namespace"] == namespace and alarm["MetricName"] == metric
        assert alarm.get("Statistic", alarm.get("ExtendedStatistic")) == statistic
        assert alarm["Threshold"] == threshold
        assert alarm["EvaluationPeriods"] == periods
        assert alarm["Period"] == 300
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["AlarmDescription"]
        assert [d["Value"] for d in alarm["Dimensions"]] == [self._dimension_target(ideal, test_suffix, target)]


IDEAL_OUTPUTS = {
    "ApiEndpoint", "OrdersUrl", "ApiId", "ApiStageName", "OrdersTableName", "OrdersTableArn",
    "CustomerIndexName", "OrderQueueUrl", "OrderQueueArn", "DLQUrl", "DLQArn", "OrderTopicArn",
    "OrderProcessorFunctionName", "OrderProcessorFunctionArn", "ApiHandlerFunctionName",
    "ApiHandlerFunctionArn", "AlarmTopicArn", "WebAclArn",
}


class TestIdealOutputsAndNames:
    def test_outputs_are_described_and_exported_with_the_suffix(self, ideal, test_suffix):
        outputs = ideal.to_json()["Outputs"]
        assert set(outputs) == IDEAL_OUTPUTS
        for output_id, output in outputs.items():
            assert output["Description"], output_id
            assert output["Export"]["Name"].startswith("orders-"), output_id
            assert output["Export"]["Name"].endswith(f"-{test_suffix}"), output_id
        assert outputs["OrderQueueUrl"]["Export"]["Name"] == f"orders-order-queue-url-{test_suffix}"
        # Acronyms are words in export names: DLQUrl -> dlq-url.
        assert outputs["DLQUrl"]["Export"]["Name"] == f"orders-dlq-url-{test_suffix}"
        assert outputs["DLQArn"]["Export"]["Name"] == f"orders-dlq-arn-{test_suffix}"

    def test_outputs_point_at_the_right_resources(self, ideal, test_suffix):
        outputs = ideal.to_json()["Outputs"]
        dlq_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-dlq-{test_suffix}")
        queue_id = logical_id(ideal, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        topic_id = logical_id(ideal, "AWS::SNS::Topic", TopicName=f"order-events-{test_suffix}")
        assert outputs["DLQUrl"]["Value"] == {"Ref": dlq_id}
        assert outputs["OrderQueueUrl"]["Value"] == {"Ref": queue_id}
        assert outputs["OrderTopicArn"]["Value"] == {"Ref": topic_id}
        assert outputs["OrdersTableName"]["Value"] == {"Ref": logical_id(ideal, "AWS::DynamoDB::Table")}
        assert outputs["CustomerIndexName"]["Value"] == "CustomerIdIndex"
        assert outputs["OrdersUrl"]["Value"]["Fn::Join"][1][-1] == "/orders"

    def test_every_explicit_name_carries_the_suffix(self, ideal, test_suffix):
        names = explicit_names(ideal)
        assert len(names) >= 25
        for resource_id, prop, value in names:
            assert test_suffix in value, (resource_id, prop, value)

    def test_stateful_resources_are_destroyed_with_the_stack(self, ideal):
        for resource_type in ("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::KMS::Key"):
            for resource_id, body in resources(ideal, resource_type).items():
                assert body["DeletionPolicy"] == "Delete", resource_id


# --------------------------------------------------------------------------- baseline


class TestBaseline:
    def test_queue_without_dlq_or_encryption_settings(self, baseline, test_suffix):
        baseline.resource_count_is("AWS::SQS::Queue", 1)
        _, queue = one(baseline, "AWS::SQS::Queue", QueueName=f"order-queue-{test_suffix}")
        assert queue["Properties"]["VisibilityTimeout"] == 300
        assert "RedrivePolicy" not in queue["Properties"]
        baseline.resource_count_is("AWS::SQS::QueuePolicy", 0)

    def test_api_invokes_the_processor_directly(self, baseline, test_suffix):
        baseline.resource_count_is("AWS::Lambda::Function", 1)
        processor_id = logical_id(baseline, "AWS::Lambda::Function", FunctionName=f"order-processor-{test_suffix}")
        _, method = one(baseline, "AWS::ApiGateway::Method", HttpMethod="POST")
        assert processor_id in json.dumps(method["Properties"]["Integration"]["Uri"])
        assert "ApiHandler" not in json.dumps(baseline.to_json())

    def test_event_source_mapping_has_no_batching_configuration(self, baseline):
        _, mapping = one(baseline, "AWS::Lambda::EventSourceMapping")
        for prop in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes"):
            assert prop not in mapping["Properties"], prop

    def test_no_alarms_no_alarm_topic(self, baseline):
        baseline.resource_count_is("AWS::CloudWatch::Alarm", 0)
        baseline.resource_count_is("AWS::SNS::Topic", 1)  # the order topic only

    def test_table_without_gsi_or_pitr(self, baseline, test_suffix):
        _, table = one(baseline, "AWS::DynamoDB::Table", TableName=f"orders-{test_suffix}")
        assert table["Properties"]["KeySchema"] == [{"AttributeName": "orderId", "KeyType": "HASH"}]
        assert "GlobalSecondaryIndexes" not in table["Properties"]
        assert "PointInTimeRecoverySpecification" not in table["Properties"]

    def test_no_xray_no_reserved_concurrency_implicit_logs(self, baseline):
        _, fn = one(baseline, "AWS::Lambda::Function")
        for prop in ("TracingConfig", "ReservedConcurrentExecutions", "LoggingConfig"):
            assert prop not in fn["Properties"], prop
        baseline.resource_count_is("AWS::Logs::LogGroup", 0)
        baseline.resource_count_is("Custom::LogRetention", 0)

    def test_no_request_validation(self, baseline):
        baseline.resource_count_is("AWS::ApiGateway::RequestValidator", 0)
        baseline.resource_count_is("AWS::ApiGateway::Model", 0)
        _, method = one(baseline, "AWS::ApiGateway::Method")
        assert "RequestValidatorId" not in method["Properties"]
        assert "RequestModels" not in method["Properties"]

    def test_default_stage_without_logging_metrics_or_tracing(self, baseline):
        _, stage = one(baseline, "AWS::ApiGateway::Stage")
        assert stage["Properties"]["StageName"] == "prod"
        for prop in ("MethodSettings", "TracingEnabled", "AccessLogSetting"):
            assert prop not in stage["Properties"], prop
        baseline.resource_count_is("AWS::ApiGateway::Account", 0)

    def test_no_waf_no_kms(self, baseline):
        baseline.resource_count_is("AWS::WAFv2::WebACL", 0)
        baseline.resource_count_is("AWS::KMS::Key", 0)
        _, topic = one(baseline, "AWS::SNS::Topic")
        assert "KmsMasterKeyId" not in topic["Properties"]

    def test_only_two_outputs_but_exported_with_the_suffix(self, baseline, test_suffix):
        outputs = baseline.to_json()["Outputs"]
        assert set(outputs) == {"ApiEndpoint", "OrdersTableName"}
        assert outputs["ApiEndpoint"]["Export"]["Name"] == f"orders-api-endpoint-{test_suffix}"
        assert outputs["OrdersTableName"]["Export"]["Name"] == f"orders-orders-table-name-{test_suffix}"
        assert all(output["Description"] for output in outputs.values())

    def test_names_keep_the_environment_suffix(self, baseline, test_suffix):
        names = explicit_names(baseline)
        assert {value for _, _, value in names} == {
            f"order-queue-{test_suffix}",
            f"orders-{test_suffix}",
            f"order-events-{test_suffix}",
            f"order-processor-{test_suffix}",
            f"order-api-{test_suffix}",
        }


# --------------------------------------------------------------------------- context switches


class TestContextSwitches:
    def test_enable_alarms_false_drops_alarms_and_alarm_topic(self, reference_template, test_suffix):
        template = reference_template(SYSTEM, "ideal", enable_alarms="false")
        template.resource_count_is("AWS::CloudWatch::Alarm", 0)
        template.resource_count_is("AWS::SNS::Topic", 1)
        outputs = template.to_json()["Outputs"]
        assert "AlarmTopicArn" not in outputs
        assert set(outputs) == IDEAL_OUTPUTS - {"AlarmTopicArn"}
        template.resource_count_is("AWS::WAFv2::WebACL", 1)  # the other ideal items stay

    def test_enable_waf_false_drops_the_web_acl(self, reference_template):
        template = reference_template(SYSTEM, "ideal", enable_waf=False)
        template.resource_count_is("AWS::WAFv2::WebACL", 0)
        template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)
        assert "WebAclArn" not in template.to_json()["Outputs"]
        template.resource_count_is("AWS::CloudWatch::Alarm", len(EXPECTED_ALARMS))

    def test_context_switches_do_not_touch_the_baseline(self, reference_template):
        template = reference_template(SYSTEM, "baseline", enable_alarms="true", enable_waf="true")
        template.resource_count_is("AWS::CloudWatch::Alarm", 0)
        template.resource_count_is("AWS::WAFv2::WebACL", 0)

    def test_a_malformed_switch_is_rejected(self, reference_stack):
        with pytest.raises(ValueError, match="enable_alarms"):
            reference_stack(SYSTEM, "ideal", enable_alarms="sometimes")
