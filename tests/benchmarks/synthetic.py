"""A synthetic, realistic app for timing the rule engine: N stacks of queue-fed services.

A stack is made of 50-resource blocks. A block has the shared pieces of a
serverless service (KMS key, alarm topic, REST API with stage, validator, WAF
and alarms, an EventBridge rule, a state machine), one queue-consumer unit
(queue + DLQ with redrive, a function with role, policy, log group, event
source mapping and invoke config, alarms by dimension and by metric math, a
table, a topic with an SQS subscription) and outputs. References use Ref,
GetAtt, Sub and Join as CDK writes them, so the relation indexes do real work.
"""

from __future__ import annotations

import re
from typing import Any

SUFFIX = "bench"


def ref(name: str) -> dict:
    return {"Ref": name}


def arn(name: str) -> dict:
    return {"Fn::GetAtt": [name, "Arn"]}


def alarm(metric: str, namespace: str, dimension: str, value: Any, topic: str, name: str) -> dict:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{name}-{SUFFIX}",
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension, "Value": value}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [ref(topic)],
        },
    }


def math_alarm(numerator: str, denominator: str, dimension: str, value: Any, topic: str, name: str) -> dict:
    """An error-rate alarm in metric math, as ``MathExpression`` synthesizes."""

    def stat(query_id: str, metric: str) -> dict:
        return {
            "Id": query_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                           "Dimensions": [{"Name": dimension, "Value": value}]},
                "Period": 60,
                "Stat": "Sum",
            },
        }

    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{name}-{SUFFIX}",
            "Metrics": [stat("e", numerator), stat("i", denominator),
                        {"Id": "rate", "Expression": "100 * e / MAX([i, 1])", "ReturnData": True}],
            "EvaluationPeriods": 3,
            "Threshold": 5,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [ref(topic)],
        },
    }


def shared(stack: str) -> dict[str, dict]:
    """What every stack has once: key, topic, API (+ stage, WAF, alarms), rule, state machine."""
    api = "Api"
    resources: dict[str, dict] = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True, "KeyPolicy": {"Statement": []}},
                "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        "AlarmTopic": {"Type": "AWS::SNS::Topic",
                       "Properties": {"TopicName": f"{stack}-alarms-{SUFFIX}", "KmsMasterKeyId": ref("Key")}},
        api: {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": f"{stack}-api-{SUFFIX}"}},
        "ApiOrders": {"Type": "AWS::ApiGateway::Resource",
                      "Properties": {"RestApiId": ref(api), "ParentId": {"Fn::GetAtt": [api, "RootResourceId"]},
                                     "PathPart": "orders"}},
        "ApiValidator": {"Type": "AWS::ApiGateway::RequestValidator",
                         "Properties": {"RestApiId": ref(api), "ValidateRequestBody": True,
                                        "ValidateRequestParameters": True}},
        "ApiOrderModel": {"Type": "AWS::ApiGateway::Model",
                          "Properties": {"RestApiId": ref(api), "ContentType": "application/json",
                                         "Schema": {"type": "object", "required": ["orderId"]}}},
        "ApiPost": {"Type": "AWS::ApiGateway::Method",
                    "Properties": {"RestApiId": ref(api), "ResourceId": ref("ApiOrders"), "HttpMethod": "POST",
                                   "AuthorizationType": "NONE", "RequestValidatorId": ref("ApiValidator"),
                                   "RequestModels": {"application/json": ref("ApiOrderModel")},
                                   "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST",
                                                   "Uri": {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path"
                                                           "/2015-03-31/functions/${Fn0.Arn}/invocations"}}}},
        "ApiDeployment": {"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": ref(api)},
                          "DependsOn": ["ApiPost"]},
        "ApiAccessLogs": {"Type": "AWS::Logs::LogGroup",
                          "Properties": {"LogGroupName": f"/aws/apigateway/{stack}-{SUFFIX}", "RetentionInDays": 30},
                          "DeletionPolicy": "Delete"},
        "ApiStage": {"Type": "AWS::ApiGateway::Stage",
                     "Properties": {"RestApiId": ref(api), "DeploymentId": ref("ApiDeployment"), "StageName": "prod",
                                    "TracingEnabled": True,
                                    "AccessLogSetting": {"DestinationArn": arn("ApiAccessLogs"), "Format": "$context"},
                                    "MethodSettings": [{"HttpMethod": "*", "ResourcePath": "/*", "LoggingLevel": "INFO",
                                                        "MetricsEnabled": True, "ThrottlingRateLimit": 100,
                                                        "ThrottlingBurstLimit": 200}]}},
        "WebAcl": {"Type": "AWS::WAFv2::WebACL",
                   "Properties": {"Name": f"{stack}-acl-{SUFFIX}", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
                                  "Rules": [], "VisibilityConfig": {"SampledRequestsEnabled": True,
                                                                    "CloudWatchMetricsEnabled": True,
                                                                    "MetricName": "acl"}}},
        "WebAclAssociation": {"Type": "AWS::WAFv2::WebACLAssociation",
                              "Properties": {"WebACLArn": arn("WebAcl"), "ResourceArn": {"Fn::Join": ["", [
                                  "arn:aws:apigateway:", ref("AWS::Region"), "::/restapis/", ref(api),
                                  "/stages/", ref("ApiStage")]]}}},
        "Api5xx": alarm("5XXError", "AWS/ApiGateway", "ApiName", f"{stack}-api-{SUFFIX}", "AlarmTopic",
                        f"{stack}-api-5xx"),
        "Api4xx": alarm("4XXError", "AWS/ApiGateway", "ApiName", f"{stack}-api-{SUFFIX}", "AlarmTopic",
                        f"{stack}-api-4xx"),
        "ApiLatency": alarm("Latency", "AWS/ApiGateway", "ApiName", f"{stack}-api-{SUFFIX}", "AlarmTopic",
                            f"{stack}-api-latency"),
        "Schedule": {"Type": "AWS::Events::Rule",
                     "Properties": {"Name": f"{stack}-schedule-{SUFFIX}", "ScheduleExpression": "rate(5 minutes)",
                                    "Targets": [{"Id": "fn", "Arn": arn("Fn0"),
                                                 "DeadLetterConfig": {"Arn": arn("Q0Dlq")},
                                                 "RetryPolicy": {"MaximumRetryAttempts": 2}}]}},
        "SchedulePermission": {"Type": "AWS::Lambda::Permission",
                               "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": arn("Fn0"),
                                              "Principal": "events.amazonaws.com", "SourceArn": arn("Schedule")}},
        "WorkflowLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30},
                         "DeletionPolicy": "Delete"},
        "Workflow": {"Type": "AWS::StepFunctions::StateMachine",
                     "Properties": {"StateMachineName": f"{stack}-workflow-{SUFFIX}", "RoleArn": arn("Fn0Role"),
                                    "TracingConfiguration": {"Enabled": True},
                                    "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": False,
                                                             "Destinations": [{"CloudWatchLogsLogGroup": {
                                                                 "LogGroupArn": arn("WorkflowLogs")}}]},
                                    "DefinitionString": {"Fn::Join": ["", [
                                        '{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"',
                                        arn("Fn0"), '","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":2}],'
                                        '"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Failed"}],"End":true},'
                                        '"Failed":{"Type":"Fail"}}}']]}}},
    }
    return resources


def service(stack: str, i: int) -> dict[str, dict]:
    """One queue-fed function with everything production needs around it (24 resources)."""
    q, dlq, fn, role, table, topic = f"Q{i}", f"Q{i}Dlq", f"Fn{i}", f"Fn{i}Role", f"Table{i}", f"Topic{i}"
    fn_name = f"{stack}-fn{i}-{SUFFIX}"
    return {
        dlq: {"Type": "AWS::SQS::Queue",
              "Properties": {"QueueName": f"{stack}-q{i}-dlq-{SUFFIX}", "MessageRetentionPeriod": 1209600,
                             "SqsManagedSseEnabled": True},
              "DeletionPolicy": "Delete"},
        q: {"Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": f"{stack}-q{i}-{SUFFIX}", "VisibilityTimeout": 180,
                           "SqsManagedSseEnabled": True,
                           "RedrivePolicy": {"deadLetterTargetArn": arn(dlq), "maxReceiveCount": 3}},
            "DeletionPolicy": "Delete"},
        f"{q}Policy": {"Type": "AWS::SQS::QueuePolicy",
                       "Properties": {"Queues": [ref(q)], "PolicyDocument": {"Statement": [{
                           "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*", "Resource": arn(q),
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
        role: {"Type": "AWS::IAM::Role",
               "Properties": {"RoleName": f"{stack}-fn{i}-role-{SUFFIX}",
                              "AssumeRolePolicyDocument": {"Statement": [{
                                  "Effect": "Allow", "Action": "sts:AssumeRole",
                                  "Principal": {"Service": "lambda.amazonaws.com"}}]},
                              "ManagedPolicyArns": [{"Fn::Join": ["", [
                                  "arn:", ref("AWS::Partition"),
                                  ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]}},
        f"{role}Policy": {"Type": "AWS::IAM::Policy",
                          "Properties": {"PolicyName": f"{fn}Policy", "Roles": [ref(role)], "PolicyDocument": {
                              "Version": "2012-10-17",
                              "Statement": [
                                  {"Effect": "Allow", "Resource": arn(q),
                                   "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]},
                                  {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"],
                                   "Resource": [arn(table), {"Fn::Join": ["", [arn(table), "/index/*"]]}]},
                                  {"Effect": "Allow", "Action": "sns:Publish", "Resource": ref(topic)},
                                  {"Effect": "Allow", "Action": ["xray:PutTraceSegments",
                                                                 "xray:PutTelemetryRecords"], "Resource": "*"},
                              ]}}},
        f"{fn}Logs": {"Type": "AWS::Logs::LogGroup",
                      "Properties": {"LogGroupName": f"/aws/lambda/{fn_name}", "RetentionInDays": 30},
                      "DeletionPolicy": "Delete"},
        fn: {"Type": "AWS::Lambda::Function",
             "Properties": {"FunctionName": fn_name, "Runtime": "python3.12", "Handler": "index.handler",
                            "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
                            "Role": arn(role), "Timeout": 30, "MemorySize": 512, "ReservedConcurrentExecutions": 10,
                            "TracingConfig": {"Mode": "Active"}, "LoggingConfig": {"LogGroup": ref(f"{fn}Logs")},
                            "Environment": {"Variables": {"TABLE": ref(table), "TOPIC": ref(topic)}}},
             "DependsOn": [f"{role}Policy", role]},
        f"{fn}Esm": {"Type": "AWS::Lambda::EventSourceMapping",
                     "Properties": {"EventSourceArn": arn(q), "FunctionName": ref(fn), "BatchSize": 10,
                                    "MaximumBatchingWindowInSeconds": 5,
                                    "FunctionResponseTypes": ["ReportBatchItemFailures"]}},
        f"{fn}InvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig",
                              "Properties": {"FunctionName": ref(fn), "Qualifier": "$LATEST",
                                             "MaximumRetryAttempts": 2,
                                             "DestinationConfig": {"OnFailure": {"Destination": arn(dlq)}}}},
        f"{fn}ErrorRate": math_alarm("Errors", "Invocations", "FunctionName", ref(fn), "AlarmTopic",
                                     f"{stack}-fn{i}-errors"),
        f"{fn}Throttles": alarm("Throttles", "AWS/Lambda", "FunctionName", ref(fn), "AlarmTopic",
                                f"{stack}-fn{i}-throttles"),
        f"{fn}Duration": alarm("Duration", "AWS/Lambda", "FunctionName", ref(fn), "AlarmTopic",
                               f"{stack}-fn{i}-duration"),
        f"{fn}Concurrency": alarm("ConcurrentExecutions", "AWS/Lambda", "FunctionName", fn_name, "AlarmTopic",
                                  f"{stack}-fn{i}-concurrency"),
        f"{q}Age": alarm("ApproximateAgeOfOldestMessage", "AWS/SQS", "QueueName",
                         {"Fn::GetAtt": [q, "QueueName"]}, "AlarmTopic", f"{stack}-q{i}-age"),
        f"{q}Depth": alarm("ApproximateNumberOfMessagesVisible", "AWS/SQS", "QueueName",
                           {"Fn::GetAtt": [q, "QueueName"]}, "AlarmTopic", f"{stack}-q{i}-depth"),
        f"{dlq}Messages": alarm("ApproximateNumberOfMessagesVisible", "AWS/SQS", "QueueName",
                                {"Fn::GetAtt": [dlq, "QueueName"]}, "AlarmTopic", f"{stack}-q{i}-dlq"),
        table: {"Type": "AWS::DynamoDB::Table",
                "Properties": {"TableName": f"{stack}-table{i}-{SUFFIX}", "BillingMode": "PAY_PER_REQUEST",
                               "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                               "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                               "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                               "SSESpecification": {"SSEEnabled": True}},
                "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        f"{table}Throttles": alarm("ThrottledRequests", "AWS/DynamoDB", "TableName", ref(table), "AlarmTopic",
                                   f"{stack}-table{i}-throttles"),
        topic: {"Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": f"{stack}-topic{i}-{SUFFIX}", "KmsMasterKeyId": ref("Key")}},
        f"{topic}Subscription": {"Type": "AWS::SNS::Subscription",
                                 "Properties": {"TopicArn": ref(topic), "Protocol": "sqs", "Endpoint": arn(q),
                                                "RedrivePolicy": {"deadLetterTargetArn": arn(dlq)}}},
        f"{topic}Policy": {"Type": "AWS::SNS::TopicPolicy",
                           "Properties": {"Topics": [ref(topic)], "PolicyDocument": {"Statement": [{
                               "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                               "Action": "sns:Publish", "Resource": ref(topic)}]}}},
        f"{fn}Alias": {"Type": "AWS::Lambda::Alias",
                       "Properties": {"FunctionName": ref(fn), "FunctionVersion": "$LATEST", "Name": "live"}},
        f"{fn}Param": {"Type": "AWS::SSM::Parameter",
                       "Properties": {"Name": f"/{stack}/fn{i}/{SUFFIX}", "Type": "String", "Value": fn_name}},
        f"{q}Dashboard": {"Type": "AWS::CloudWatch::Dashboard",
                          "Properties": {"DashboardName": f"{stack}-q{i}-{SUFFIX}", "DashboardBody": {"Fn::Join": [
                              "", ['{"widgets":[{"type":"metric","properties":{"metrics":[["AWS/SQS",'
                                   '"ApproximateNumberOfMessagesVisible","QueueName","',
                                   {"Fn::GetAtt": [q, "QueueName"]}, '"]]}}]}']]}}},
    }


def outputs(stack: str, units: int) -> dict[str, dict]:
    result = {
        "ApiEndpoint": {"Description": "REST API endpoint",
                        "Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/prod/"},
                        "Export": {"Name": f"{stack}-api-endpoint-{SUFFIX}"}},
        "AlarmTopicArn": {"Description": "alarm notifications", "Value": ref("AlarmTopic")},
        "WorkflowArn": {"Description": "state machine", "Value": ref("Workflow")},
    }
    for i in range(units):
        result[f"Q{i}Url"] = {"Description": f"queue {i}", "Value": ref(f"Q{i}"),
                              "Export": {"Name": f"{stack}-q{i}-url-{SUFFIX}"}}
        result[f"Q{i}DlqUrl"] = {"Description": f"DLQ {i}", "Value": ref(f"Q{i}Dlq")}
        result[f"Table{i}Name"] = {"Description": f"table {i}", "Value": ref(f"Table{i}")}
        result[f"Topic{i}Arn"] = {"Description": f"topic {i}", "Value": ref(f"Topic{i}")}
    return result


BLOCK = 50  # resources per block: the shared pieces, one service, padding
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)((?:\.[A-Za-z.]+)?)\}")


def block(stack: str, number: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """Resources and outputs of one block, logical IDs prefixed ``B<number>`` so blocks can share a stack."""
    label = f"{stack}-b{number}"
    resources = shared(label)
    resources.update(service(label, 0))
    for extra in range(BLOCK - len(resources)):  # pad to the exact size with log groups
        resources[f"Extra{extra}Logs"] = {"Type": "AWS::Logs::LogGroup",
                                          "Properties": {"RetentionInDays": 7}, "DeletionPolicy": "Delete"}
    prefix = f"B{number}"
    ids = set(resources)
    renamed = {}
    for logical_id, definition in resources.items():
        definition = _prefixed(definition, prefix, ids)
        if "DependsOn" in definition:
            definition["DependsOn"] = [prefix + d for d in definition["DependsOn"]]
        definition.setdefault("Metadata", {})["aws:cdk:path"] = f"{stack}/{label}/{logical_id}/Resource"
        renamed[prefix + logical_id] = definition
    return renamed, {prefix + key: _prefixed(value, prefix, ids) for key, value in outputs(label, 1).items()}


def _prefixed(value: Any, prefix: str, ids: set[str]) -> Any:
    """``value`` with every reference to one of ``ids`` renamed to ``prefix + id``."""
    if isinstance(value, list):
        return [_prefixed(v, prefix, ids) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and arg in ids:
            return {"Ref": prefix + arg}
        if key == "Fn::GetAtt" and arg[0] in ids:
            return {"Fn::GetAtt": [prefix + arg[0], arg[1]]}
        if key == "Fn::Sub" and isinstance(arg, str):
            return {"Fn::Sub": _SUB_REFERENCE.sub(
                lambda m: "${" + (prefix if m.group(1) in ids else "") + m.group(1) + m.group(2) + "}", arg)}
    return {k: _prefixed(v, prefix, ids) for k, v in value.items()}


def synthetic_templates(stacks: int, resources_per_stack: int) -> dict[str, dict]:
    """``stacks`` templates of ``resources_per_stack`` resources each (a multiple of :data:`BLOCK`).

    Bigger stacks hold more blocks, so doubling the size doubles every kind of resource alike.
    """
    if resources_per_stack % BLOCK:
        raise ValueError(f"resources_per_stack must be a multiple of {BLOCK}")
    templates = {}
    for s in range(stacks):
        name = f"svc{s:03d}-{SUFFIX}"
        template: dict[str, dict] = {"Resources": {}, "Outputs": {}}
        for number in range(resources_per_stack // BLOCK):
            resources, outs = block(name, number)
            template["Resources"].update(resources)
            template["Outputs"].update(outs)
        templates[name] = template
    return templates
