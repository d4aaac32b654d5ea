"""order_processing_fargate on LocalStack (seed 001): the queue, DLQ and alarm parts live; the rest not emulated.

LocalStack's community edition has no ECS, ELBv2 or Cloud Map: the API and worker services, the load
balancer and the service discovery namespace are created as no-ops, so nothing of them can be proven
live and they are reported as not emulated. What is emulated is verified: the order queue redrives a
message the worker keeps failing to the DLQ, the DLQ alarm then notifies the alert topic, every alarm's
action reaches the topic, and the outputs of emulated resources resolve.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.live.flow_support import (
    deployed_reference,
    inbox,
    queue_alarm,
    received,
    results_by,
    wait_for_alarm,
    wait_until,
)

SYSTEM = "order_processing_fargate"
# The embedded LocalStack reports queue depth to CloudWatch every 5 s (SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL),
# so the DLQ alarm follows its first message within seconds, not LocalStack's default minute.
ALARM_SECONDS = 30
NOT_EMULATED = {"AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::ECS::TaskDefinition",
                "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener",
                "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ServiceDiscovery::PrivateDnsNamespace",
                "AWS::ServiceDiscovery::Service"}
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def ideal(localstack, tmp_path_factory):
    with deployed_reference(SYSTEM, "ideal", localstack, tmp_path_factory.mktemp(f"{SYSTEM}-ideal")) as deployed:
        yield deployed


def test_ecs_alb_and_cloud_map_are_listed_as_not_emulated(ideal):
    listed = {resource_type for stack in ideal.deployment.stacks for _, resource_type in stack.not_emulated}
    assert NOT_EMULATED <= listed


def test_a_message_the_worker_keeps_failing_ends_in_the_dlq_and_its_alarm_notifies(ideal):
    # No ECS worker runs here: the test receives the order as the worker would and, like a worker that
    # crashes on it, never deletes it; each receive releases it at once instead of waiting out the timeout.
    sqs, sns = ideal.client("sqs"), ideal.client("sns")
    queue, dlq = ideal.outputs["OrderQueueUrl"], ideal.outputs["OrderDlqUrl"]
    alarm = queue_alarm(ideal, dlq)
    assert ideal.outputs["SNSTopicArn"] in alarm["AlarmActions"]
    poison = f"order that crashes the worker {uuid.uuid4().hex}"
    with inbox(ideal, "flow-alerts") as (inbox_url, inbox_arn):
        subscription = sns.subscribe(TopicArn=ideal.outputs["SNSTopicArn"], Protocol="sqs", Endpoint=inbox_arn,
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        try:
            sqs.send_message(QueueUrl=queue, MessageBody=poison)
            receives = 0
            while taken := received(ideal, queue, lambda body: body == poison):
                receives += 1  # the worker fails on it; release it at once
                sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=taken[0]["ReceiptHandle"],
                                              VisibilityTimeout=0)
            moved = wait_until(lambda: received(ideal, dlq, lambda body: body == poison), timeout=10,
                               what="the poison order in the DLQ")
            assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(queue.rsplit("/", 1)[-1])
            # Visible again at once: the alarm counts visible messages (received, it would hide for the timeout).
            sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=moved[0]["ReceiptHandle"], VisibilityTimeout=0)
            notification = wait_for_alarm(ideal, inbox_url, alarm, timeout=ALARM_SECONDS)
        finally:
            sns.unsubscribe(SubscriptionArn=subscription)
    redrive = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    assert receives == int(json.loads(redrive)["maxReceiveCount"])
    assert notification["NewStateValue"] == "ALARM" and "Threshold Crossed" in notification["NewStateReason"]


def test_every_alarm_notifies_and_every_probe_passes_or_is_not_emulated(ideal):
    # Last: the DLQ alarm above must be driven by the poison order alone, not by the DLQ probe's message.
    results = ideal.probe()
    assert [r for r in results if r.result == "fail"] == []
    assert {r.resource_type for r in results if r.kind == "emulation"} >= NOT_EMULATED
    outputs = {r.logical_id: r.result for r in results if r.kind == "output"}
    for key in ("ClusterName", "ApiServiceName", "WorkerServiceName", "LoadBalancerDns", "NamespaceId"):
        assert outputs[key] == "not-emulated", key
    for key in ("OrderQueueUrl", "OrderDlqUrl", "SNSTopicArn"):
        assert outputs[key] == "pass", key
    alarms = results_by(results, "alarm")
    # Every alarm that notifies the topic (ECS and ALB ones too); the two step-scaling alarms act on scaling policies.
    assert len(alarms) == 10 and {r.result for r in alarms.values()} == {"pass"}
    assert results_by(results, "dlq")["OrderQueue39B99167"].result == "pass"
    print(f"\n{SYSTEM} ideal: deployed in {ideal.deploy_seconds:.1f} s, {len(results)} probes in "
          f"{ideal.probe_seconds:.1f} s")
