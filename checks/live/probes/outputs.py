"""Every output of a deployed stack that refers to a resource resolves to a live resource.

The template says which resource an output refers to; the deployed value says how (a URL, an ARN,
a name or an id). The value is recognised by its form (API URL, queue URL, ARN by service) or, for a
plain name or id, by the type of the resource the template names, and asked of the matching API:
a queue URL must answer ``GetQueueAttributes``, a table name ``DescribeTable``, an API URL an HTTP
request that API Gateway routes to its stage, and so on. A value that is not recognisable fails
(it is not passed unchecked); outputs that name no resource (literals, ``AWS::Region``) get no probe,
and outputs naming a resource LocalStack does not emulate are ``not-emulated``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from typing import Callable

from checks.assembly import Resource, Stack
from checks.live.not_emulated import is_emulated
from checks.live.probes import Budget, Live, Probe, ProbeFailed, Verdict, failed, not_emulated, passed

KIND = "output"
HTTP_TIMEOUT = 10.0
_QUEUE_PATH = re.compile(r"^/(\d{12})/([^/]+)$")
_PATH_STYLE_API = re.compile(r"^/(?:_aws/execute-api|restapis)/([^/]+)/([^/]+)(?:/_user_request_)?(/.*)?$")

Check = Callable[[Live, Budget], str]  # returns what answered; raises ProbeFailed (or a ClientError) when nothing


def plan(live: Live) -> list[Probe]:
    probes = []
    for deployed, stack in live.deployed_stacks():
        for key, output in stack.outputs.items():
            targets = live.assembly.targets(stack, output.get("Value"))
            if targets:  # a literal or a pseudo parameter names nothing that could be looked up
                probes.append(Probe(KIND, stack.name, key, None,
                                    partial(probe_output, stack, key, targets, deployed.outputs)))
    return probes


def probe_output(stack: Stack, key: str, targets: list[Resource], outputs: dict[str, str], live: Live,
                 budget: Budget) -> Verdict:
    import botocore.exceptions

    value = outputs.get(key)
    if value is None:
        return failed(f"output {key} is missing from the deployed stack")
    absent = [t for t in targets if not is_emulated(t.type)]
    if absent:
        return not_emulated(f"{key} = {value!r} names {absent[0].type} {absent[0].logical_id}, which LocalStack "
                            "does not emulate")
    check = recognise(value, targets)
    if check is None:
        types = ", ".join(sorted({t.type for t in targets}))
        return failed(f"{key} = {value!r} is not recognisable as an identifier of {types}; not checked")
    budget.check(f"resolving output {key}")
    try:
        return passed(f"{key} resolves: {check(live, budget)}")
    except ProbeFailed as exc:
        return failed(f"{key} = {value!r} does not resolve: {exc}")
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        return failed(f"{key} = {value!r} does not resolve: {exc.operation_name} says {error.get('Code')}: "
                      f"{error.get('Message')}")


def recognise(value: str, targets: list[Resource]) -> Check | None:
    """How to resolve ``value``: by its form (URL, ARN), else by the type of the resource it names."""
    if value.startswith(("http://", "https://")):
        return recognise_url(value, targets)
    if value.startswith("arn:"):
        return recognise_arn(value)
    for target in targets:
        check = NAME_CHECKS.get(target.type)
        if check is not None:
            return partial(check, value, target)
    return None


def recognise_url(value: str, targets: list[Resource]) -> Check | None:
    parts = urllib.parse.urlsplit(value)
    if ".execute-api." in parts.netloc:
        stage, _, rest = parts.path.lstrip("/").partition("/")
        return partial(check_api_url, parts.netloc.split(".", 1)[0], stage, rest) if stage else None
    path_style = _PATH_STYLE_API.match(parts.path)
    if path_style:
        return partial(check_api_url, path_style.group(1), path_style.group(2), (path_style.group(3) or "/")[1:])
    if _QUEUE_PATH.match(parts.path) and any(t.type == "AWS::SQS::Queue" for t in targets):
        return partial(check_queue_url, value)
    return None


def recognise_arn(arn: str) -> Check | None:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    for (arn_service, prefix), check in ARN_CHECKS.items():
        if service == arn_service and resource.startswith(prefix):
            return partial(check, arn, resource)
    return None


# --- URLs -------------------------------------------------------------------------------------


def check_api_url(api_id: str, stage: str, path: str, live: Live, budget: Budget) -> str:
    """An HTTP GET that API Gateway routes to the stage (any answer below 500 proves the API serves)."""
    quoted = urllib.parse.quote(path, safe="/")
    url = f"{live.deployment.endpoint.url}/_aws/execute-api/{api_id}/{stage}/{quoted}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=min(HTTP_TIMEOUT, max(budget.remaining(), 0.1))) as response:
            status, headers, body = response.status, response.headers, b""
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    except OSError as exc:
        raise ProbeFailed(f"GET /{path} on API {api_id} stage {stage} got no answer ({exc})") from exc
    if not headers.get("x-amz-apigw-id"):
        raise ProbeFailed(f"API Gateway has no deployed API {api_id} with stage {stage} (HTTP {status}: "
                          f"{body[:120].decode(errors='replace')})")
    if status >= 500:
        raise ProbeFailed(f"API {api_id} stage {stage} answers GET /{path} with HTTP {status}: "
                          f"{body[:120].decode(errors='replace')}")
    return f"API {api_id} stage {stage} answers GET /{path} with HTTP {status}"


def check_queue_url(url: str, live: Live, _budget: Budget) -> str:
    live.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return f"queue {url.rsplit('/', 1)[-1]} answers"


# --- ARNs -------------------------------------------------------------------------------------


def _queue_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("sqs").get_queue_url(QueueName=resource)
    return f"queue {resource} exists"


def _topic_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("sns").get_topic_attributes(TopicArn=arn)
    return f"topic {resource} exists"


def _function_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("lambda").get_function(FunctionName=arn)
    return f"function {resource.split(':', 1)[1]} exists"


def _layer_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("lambda").get_layer_version_by_arn(Arn=arn)
    return f"layer version {resource.split(':', 1)[1]} exists"


def _table_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    if "/stream/" in resource:
        live.client("dynamodbstreams").describe_stream(StreamArn=arn)
        return f"table stream {resource} exists"
    name = resource.split("/")[1]
    live.client("dynamodb").describe_table(TableName=name)
    return f"table {name} exists"


def _stream_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    kinesis = live.client("kinesis")
    if "/consumer/" in resource:
        kinesis.describe_stream_consumer(ConsumerARN=arn)
        return f"stream consumer {resource.split('/')[3].split(':')[0]} exists"
    name = resource.split("/")[1]
    kinesis.describe_stream_summary(StreamName=name)
    return f"stream {name} exists"


def _key_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("kms").describe_key(KeyId=arn)
    return f"KMS {resource} exists"


def _role_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    name = resource.rsplit("/", 1)[-1]
    live.client("iam").get_role(RoleName=name)
    return f"role {name} exists"


def _state_machine_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    return f"state machine {resource.split(':', 1)[1]} exists"


def _rule_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    path = resource.split("/")[1:]
    bus = {"EventBusName": path[0]} if len(path) > 1 else {}
    live.client("events").describe_rule(Name=path[-1], **bus)
    return f"rule {path[-1]} exists"


def _log_group_arn(arn: str, resource: str, live: Live, budget: Budget) -> str:
    return check_log_group(resource.split(":")[1], None, live, budget)


def _bucket_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("s3").head_bucket(Bucket=resource)
    return f"bucket {resource} exists"


def _secret_arn(arn: str, resource: str, live: Live, _budget: Budget) -> str:
    live.client("secretsmanager").describe_secret(SecretId=arn)
    return f"secret {resource.split(':', 1)[1]} exists"


ARN_CHECKS: dict[tuple[str, str], Callable[..., str]] = {
    ("sqs", ""): _queue_arn,
    ("sns", ""): _topic_arn,
    ("lambda", "function:"): _function_arn,
    ("lambda", "layer:"): _layer_arn,
    ("dynamodb", "table/"): _table_arn,
    ("kinesis", "stream/"): _stream_arn,
    ("kms", "key/"): _key_arn,
    ("kms", "alias/"): _key_arn,
    ("iam", "role/"): _role_arn,
    ("states", "stateMachine:"): _state_machine_arn,
    ("events", "rule/"): _rule_arn,
    ("logs", "log-group:"): _log_group_arn,
    ("s3", ""): _bucket_arn,
    ("secretsmanager", "secret:"): _secret_arn,
}


# --- names and ids, by the type of the resource the template names ------------------------------


def check_table(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("dynamodb").describe_table(TableName=name)
    return f"table {name} exists"


def check_function(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("lambda").get_function(FunctionName=name)
    return f"function {name} exists"


def check_log_group(name: str, _target: Resource | None, live: Live, budget: Budget) -> str:
    for page in live.client("logs").get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        budget.check("listing log groups")
        if any(group["logGroupName"] == name for group in page["logGroups"]):
            return f"log group {name} exists"
    raise ProbeFailed(f"no log group {name}")


def check_stream(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("kinesis").describe_stream_summary(StreamName=name)
    return f"stream {name} exists"


def check_rule(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    bus, _, rule = name.rpartition("|")  # a rule on a custom bus is referred to as "bus|name"
    live.client("events").describe_rule(Name=rule, **({"EventBusName": bus} if bus else {}))
    return f"rule {rule} exists"


def check_bucket(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("s3").head_bucket(Bucket=name)
    return f"bucket {name} exists"


def check_queue_name(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("sqs").get_queue_url(QueueName=name)
    return f"queue {name} exists"


def check_rest_api(api_id: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    api = live.client("apigateway").get_rest_api(restApiId=api_id)
    return f"REST API {api.get('name', api_id)} ({api_id}) exists"


def check_stage(name: str, target: Resource, live: Live, _budget: Budget) -> str:
    apis = [r for r in live.assembly.targets(target.stack, target.prop("RestApiId"))
            if r.type == "AWS::ApiGateway::RestApi"]
    api_id = live.physical_id(apis[0]) if apis else None
    if not api_id:
        raise ProbeFailed(f"the stage's REST API is not known ({target.prop('RestApiId')!r})")
    live.client("apigateway").get_stage(restApiId=api_id, stageName=name)
    return f"stage {name} of API {api_id} exists"


def check_api_key(key_id: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("apigateway").get_api_key(apiKey=key_id)
    return f"API key {key_id} exists"


def check_alarm(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    if not live.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        raise ProbeFailed(f"no alarm {name}")
    return f"alarm {name} exists"


def check_parameter(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("ssm").get_parameter(Name=name)
    return f"parameter {name} exists"


def check_vpc(vpc_id: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("ec2").describe_vpcs(VpcIds=[vpc_id])
    return f"VPC {vpc_id} exists"


def check_key(key_id: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("kms").describe_key(KeyId=key_id)
    return f"KMS key {key_id} exists"


def check_role(name: str, _target: Resource | None, live: Live, _budget: Budget) -> str:
    live.client("iam").get_role(RoleName=name)
    return f"role {name} exists"


NAME_CHECKS: dict[str, Callable[..., str]] = {
    "AWS::DynamoDB::Table": check_table,
    "AWS::DynamoDB::GlobalTable": check_table,
    "AWS::Lambda::Function": check_function,
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::Kinesis::Stream": check_stream,
    "AWS::Events::Rule": check_rule,
    "AWS::S3::Bucket": check_bucket,
    "AWS::SQS::Queue": check_queue_name,
    "AWS::ApiGateway::RestApi": check_rest_api,
    "AWS::ApiGateway::Stage": check_stage,
    "AWS::ApiGateway::ApiKey": check_api_key,
    "AWS::CloudWatch::Alarm": check_alarm,
    "AWS::SSM::Parameter": check_parameter,
    "AWS::EC2::VPC": check_vpc,
    "AWS::KMS::Key": check_key,
    "AWS::IAM::Role": check_role,
}
