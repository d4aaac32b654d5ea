"""What our start-up patches make LocalStack 4.14 apply, proven through CloudFormation on the embedded LocalStack.

- ``AWS::Logs::LogGroup`` ``RetentionInDays`` on create, changed and dropped on update (plugins' cloudformation.py).
- ``AWS::Lambda::Function`` ``ReservedConcurrentExecutions`` on create, changed and dropped on update (same).
- An EventBridge rule whose Step Functions target takes ``$.detail`` (InputPath) or a transformed text starts
  its execution (plugins' events.py); a target taking the whole event still names it after the event's id.
- SQS queue-depth metrics reach CloudWatch within seconds (``SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL``).
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.live
WAIT = {"Delay": 1, "MaxAttempts": 90}
ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com",
                                                                      "events.amazonaws.com"]}}]}}}


@pytest.fixture
def stack(aws, unique):
    """``stack(template)`` creates a stack and waits; ``stack.update(template)`` updates it; deleted afterwards."""
    cfn = aws("cloudformation")
    names = []

    class Stack:
        def __call__(self, template: dict) -> str:
            self.name = unique("patches")
            names.append(self.name)
            cfn.create_stack(StackName=self.name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
            cfn.get_waiter("stack_create_complete").wait(StackName=self.name, WaiterConfig=WAIT)
            return self.name

        def update(self, template: dict) -> None:
            cfn.update_stack(StackName=self.name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
            cfn.get_waiter("stack_update_complete").wait(StackName=self.name, WaiterConfig=WAIT)

        def physical_id(self, logical_id: str) -> str:
            return cfn.describe_stack_resource(StackName=self.name, LogicalResourceId=logical_id)[
                "StackResourceDetail"]["PhysicalResourceId"]

    yield Stack()
    for name in names:
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


# --- log group retention ----------------------------------------------------------------------------------


def log_groups(**retention: int | None) -> dict:
    return {"Resources": {logical_id: {"Type": "AWS::Logs::LogGroup", "Properties": {} if days is None else {
        "RetentionInDays": days}} for logical_id, days in retention.items()}}


def retention_of(aws, name: str) -> int | None:
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next(g for g in groups if g["logGroupName"] == name).get("retentionInDays")


def test_a_log_group_keeps_the_template_retention_through_create_and_updates(aws, stack):
    stack(log_groups(Kept=14, Forever=None))
    kept, forever = stack.physical_id("Kept"), stack.physical_id("Forever")
    assert (retention_of(aws, kept), retention_of(aws, forever)) == (14, None)

    stack.update(log_groups(Kept=30, Forever=7))
    assert (stack.physical_id("Kept"), stack.physical_id("Forever")) == (kept, forever)  # updated, not replaced
    assert (retention_of(aws, kept), retention_of(aws, forever)) == (30, 7)

    stack.update(log_groups(Kept=None, Forever=7))
    assert (retention_of(aws, kept), retention_of(aws, forever)) == (None, 7)


# --- function reserved concurrency ------------------------------------------------------------------------


def functions(**reserved: int | None) -> dict:
    code = {"ZipFile": "def handler(event, context):\n    return event\n"}
    resources = {logical_id: {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.13", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": code,
        **({} if value is None else {"ReservedConcurrentExecutions": value})}}
        for logical_id, value in reserved.items()}
    return {"Resources": {"Role": ROLE, **resources}}


def reserved_of(aws, name: str) -> int | None:
    return aws("lambda").get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")


def test_a_function_keeps_the_template_reserved_concurrency_through_create_and_updates(aws, stack):
    stack(functions(Reserved=5, Unreserved=None, Stopped=0))
    reserved, unreserved, stopped = (stack.physical_id(i) for i in ("Reserved", "Unreserved", "Stopped"))
    assert [reserved_of(aws, n) for n in (reserved, unreserved, stopped)] == [5, None, 0]

    stack.update(functions(Reserved=7, Unreserved=2, Stopped=None))
    assert [reserved_of(aws, n) for n in (reserved, unreserved, stopped)] == [7, 2, None]
    # The function itself is still served after the update (the invocation is not throttled).
    result = aws("lambda").invoke(FunctionName=reserved, Payload=b'{"ok": true}')
    assert "FunctionError" not in result and json.loads(result["Payload"].read()) == {"ok": True}


# --- EventBridge to Step Functions ------------------------------------------------------------------------


def rule_to_state_machine(source: str) -> dict:
    target = {"Arn": {"Ref": "Machine"}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}
    return {"Resources": {
        "Role": ROLE,
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "DefinitionString": json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": [source]}, "Targets": [
            {**target, "Id": "Detail", "InputPath": "$.detail"},
            {**target, "Id": "Whole"},
            {**target, "Id": "Transformed", "InputTransformer": {
                "InputPathsMap": {"symbol": "$.detail.symbol"}, "InputTemplate": '{"requested": <symbol>}'}}]}},
    }}


def test_a_rule_starts_its_state_machine_with_the_detail_the_whole_event_or_a_transformed_input(aws, stack, unique):
    source = unique("stackgrade.patches")
    stack(rule_to_state_machine(source))
    machine = stack.physical_id("Machine")
    entry = aws("events").put_events(Entries=[{"Source": source, "DetailType": "Requested",
                                               "Detail": json.dumps({"symbol": "ABC"})}])["Entries"][0]
    sfn = aws("stepfunctions")
    deadline = time.monotonic() + 20
    while len(executions := sfn.list_executions(stateMachineArn=machine)["executions"]) < 3:
        assert time.monotonic() < deadline, f"only {len(executions)} of 3 executions started"
        time.sleep(0.2)
    inputs = {e["name"]: json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
              for e in executions}
    whole = inputs.pop(entry["EventId"])
    assert (whole["id"], whole["detail"]) == (entry["EventId"], {"symbol": "ABC"})
    assert sorted(inputs.values(), key=json.dumps) == [{"requested": "ABC"}, {"symbol": "ABC"}]
    assert len(set(inputs)) == 2


# --- SQS metrics -----------------------------------------------------------------------------------------


def test_queue_depth_reaches_cloudwatch_within_seconds(aws, unique):
    sqs, cloudwatch = aws("sqs"), aws("cloudwatch")
    name = unique("patches-depth")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="one")
        started = time.monotonic()

        def depth() -> float:
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
                Dimensions=[{"Name": "QueueName", "Value": name}], StartTime=time.time() - 120,
                EndTime=time.time() + 60, Period=60, Statistics=["Maximum"])["Datapoints"]
            return max((p["Maximum"] for p in points), default=0)

        while depth() < 1:
            assert time.monotonic() - started < 15, "no queue-depth datapoint within 15 s"
            time.sleep(0.5)
    finally:
        sqs.delete_queue(QueueUrl=url)
