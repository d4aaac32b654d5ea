"""The acknowledgement helpers of ``reference_stacks.common``: where they write, and that baselines get none."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

import reference_stacks  # noqa: F401  (jsii's Node)
from reference_stacks.common import (
    ReferenceStack,
    Variant,
    acknowledge,
    acknowledge_iam_wildcard,
    dead_letter_queue,
)

ACK_KEY = "aws:cdk:acknowledged-rules"


def _acknowledged(construct) -> dict[str, str]:
    return {k: v for entry in construct.node.metadata if entry.type == ACK_KEY for k, v in entry.data.items()}


def _stack(variant: Variant | None) -> cdk.Stack:
    app = cdk.App()
    if variant is None:
        return cdk.Stack(app, "Plain")
    return ReferenceStack(app, "Ref", variant=variant, environment_suffix="qa7")


def test_nag_ids_are_acknowledged_with_their_pack_and_checkov_skips_accumulate():
    stack = _stack(None)  # outside a reference stack: acknowledged as asked
    queue = sqs.Queue(stack, "Queue")
    acknowledge(queue, "first reason", nag=("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"), checkov=("CKV_AWS_27",))
    acknowledge(queue, "second reason", checkov=("CKV_AWS_1",))
    assert _acknowledged(queue) == {
        "AwsSolutions::AwsSolutions-SQS3": "first reason",
        "Serverless::Serverless-SQSRedrivePolicy": "first reason",
    }
    (resource,) = Template.from_stack(stack).find_resources("AWS::SQS::Queue").values()
    assert resource["Metadata"]["checkov"] == {"skip": [
        {"id": "CKV_AWS_27", "comment": "first reason"}, {"id": "CKV_AWS_1", "comment": "second reason"},
    ]}


def test_a_reason_is_required():
    queue = sqs.Queue(_stack(None), "Queue")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(queue, "  ", nag=("AwsSolutions-SQS3",))


def test_baselines_get_no_acknowledgement():
    stack = _stack(Variant.BASELINE)
    dlq = dead_letter_queue(stack, "Dlq", queue_name="dlq-qa7", dead_letter_of="the main queue")
    acknowledge(dlq, "a reason", checkov=("CKV_AWS_27",))
    assert _acknowledged(dlq) == {}
    (resource,) = Template.from_stack(stack).find_resources("AWS::SQS::Queue").values()
    assert "checkov" not in resource.get("Metadata", {})


def test_ideal_dead_letter_queues_acknowledge_the_missing_dlq_and_sse_sqs():
    stack = _stack(Variant.IDEAL)
    dlq = dead_letter_queue(stack, "Dlq", queue_name="dlq-qa7", dead_letter_of="the main queue")
    reasons = _acknowledged(dlq)
    assert set(reasons) == {"AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"}
    assert all("dead-letter queue of the main queue" in reason for reason in reasons.values())
    (resource,) = Template.from_stack(stack).find_resources("AWS::SQS::Queue").values()
    assert [skip["id"] for skip in resource["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_27"]


def test_iam_wildcards_are_acknowledged_on_the_default_policy_or_the_principal():
    stack = _stack(Variant.IDEAL)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bare = iam.Role(stack, "Bare", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["xray:PutTraceSegments"], resources=["*"]))
    acknowledge_iam_wildcard(role, "Resource::*", "X-Ray takes no resource ARNs")
    acknowledge_iam_wildcard(bare, "Resource::*", "nothing to hide yet")
    expected_id = "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
    assert _acknowledged(role.node.find_child("DefaultPolicy")) == {expected_id: "X-Ray takes no resource ARNs"}
    assert _acknowledged(role) == {}
    assert _acknowledged(bare) == {expected_id: "nothing to hide yet"}
