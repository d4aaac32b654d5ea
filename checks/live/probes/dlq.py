"""A poison message reaches the dead-letter queue after maxReceiveCount receives.

Probed: every queue with a redrive policy, and every queue an event source mapping consumes (a
consumed queue without a policy fails: its poison message stays until retention ends, then is lost).
While probing, the queue's event source mappings are disabled (and re-enabled afterwards), or the
consumer would race the probe for the message. Each receive releases the message at once
(``ChangeMessageVisibility`` 0) instead of waiting out the visibility timeout.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from functools import partial
from typing import Any, Iterator

from checks.assembly import Resource
from checks.live.probes import Budget, Live, Probe, ProbeFailed, Verdict, failed, passed

KIND = "dlq"
QUEUE = "AWS::SQS::Queue"
MARK = "stackgrade-probe"
RECEIVE_BUDGET = 25  # receives the probe spends at most before the message must have moved
UNPROTECTED_RECEIVES = 5  # receives that show a queue without a DLQ keeps its poison message
EMPTY_RECEIVES = 2  # empty receives (the last one waiting a second) after which the message is gone
ACTIVE_STATES = ("Enabled", "Enabling", "Creating", "Updating")
POLLER_MARGIN = 0.5  # seconds past the batching window for a paused poller's last receive to return


def plan(live: Live) -> list[Probe]:
    probes = []
    for queue in live.assembly.resources(QUEUE):
        policy = redrive_policy(queue)
        if policy is not None or live.relations.mappings_of_source(queue):
            probes.append(Probe(KIND, queue.stack.name, queue.logical_id, queue.type,
                                partial(probe_queue, queue, policy)))
    return probes


def redrive_policy(queue: Resource) -> dict | None:
    """The template's redrive policy (CloudFormation also takes it as a JSON string)."""
    policy = queue.prop("RedrivePolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return None
    return policy if isinstance(policy, dict) and policy.get("deadLetterTargetArn") else None


def probe_queue(queue: Resource, policy: dict | None, live: Live, budget: Budget) -> Verdict:
    sqs = live.client("sqs")
    url = live.require_physical_id(queue)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    deployed = attributes.get("RedrivePolicy") or "none"
    if policy is None:
        return probe_unprotected(sqs, url, attributes, live, budget)
    count = live.assembly.literal(queue.stack, policy.get("maxReceiveCount"))
    if count is None or not count.isdigit():
        raise ProbeFailed(f"the template's maxReceiveCount {policy.get('maxReceiveCount')!r} is not a number")
    max_receives = int(count)
    if max_receives > RECEIVE_BUDGET:
        return failed(f"maxReceiveCount {max_receives} is beyond the probe's budget of {RECEIVE_BUDGET} receives: "
                      "a poison message is retried that often before it reaches the DLQ")
    dlq_url, dlq_name = dead_letter_queue(live, queue, policy, attributes.get("RedrivePolicy"))
    if dlq_url is None:
        return failed(f"the dead-letter queue {dlq_name} the redrive policy names does not exist")
    # Queues sharing a DLQ are probed one after the other: a probe's receive on the DLQ hides the
    # other probe's message from it for a moment.
    with live.shared(("dlq", dlq_url), threading.Lock), paused_mappings(live, attributes["QueueArn"], budget) as paused:
        marker = send_poison(sqs, url, attributes)
        receives, gone = cycle(sqs, url, marker, max_receives + 1, budget)
        arrived = take(sqs, dlq_url, marker, budget)
        if not gone:
            take(sqs, url, marker, budget)
    context = f"maxReceiveCount {max_receives}{paused_note(paused)}"
    if arrived and receives == max_receives:
        return passed(f"the poison message reached {dlq_name} after {receives} receives ({context})")
    if arrived:
        return failed(f"the poison message reached {dlq_name} after {receives} receives, not {max_receives} "
                      f"({context}; deployed RedrivePolicy {deployed})")
    where = (f"still in the queue after {receives} receives" if not gone
             else f"gone from the queue after {receives} receives")
    return failed(f"the poison message is {where} but not in {dlq_name} ({context}; deployed RedrivePolicy "
                  f"{deployed})")


def probe_unprotected(sqs, url: str, attributes: dict, live: Live, budget: Budget) -> Verdict:
    """A consumed queue without a redrive policy: show that its poison message just keeps coming back."""
    with paused_mappings(live, attributes["QueueArn"], budget) as paused:
        marker = send_poison(sqs, url, attributes)
        receives, gone = cycle(sqs, url, marker, UNPROTECTED_RECEIVES, budget)
        if not gone:
            take(sqs, url, marker, budget)
    if gone:
        return failed(f"the template gives this consumed queue no redrive policy; the poison message left it after "
                      f"{receives} receives for a place the template does not name (deployed RedrivePolicy "
                      f"{attributes.get('RedrivePolicy') or 'none'}){paused_note(paused, ';')}")
    days = int(attributes.get("MessageRetentionPeriod", "345600")) / 86400
    return failed(f"no redrive policy: the poison message was received {receives} times and is still in the queue; "
                  f"it is retried until its retention period ({days:g} days) ends, then lost"
                  f"{paused_note(paused, ';')}")


def dead_letter_queue(live: Live, queue: Resource, policy: dict, deployed: str | None) -> tuple[str | None, str]:
    """URL (None when it does not exist) and name of the DLQ the template's redrive policy names."""
    target = live.relations.dlq_of(queue)
    if target is not None:
        url = live.physical_id(target)
        return url, url.rsplit("/", 1)[-1] if url else target.logical_id
    # Not a queue of the template: a literal ARN, or (built with pseudo parameters) what was deployed.
    arn = live.assembly.literal(queue.stack, policy.get("deadLetterTargetArn")) or \
        json.loads(deployed or "{}").get("deadLetterTargetArn") or ""
    name = arn.rsplit(":", 1)[-1]
    if not name:
        raise ProbeFailed("the redrive policy names no queue of the template, and the deployed queue has none")
    sqs = live.client("sqs")
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"], name
    except sqs.exceptions.QueueDoesNotExist:
        return None, name


@contextlib.contextmanager
def paused_mappings(live: Live, queue_arn: str, budget: Budget) -> Iterator[int]:
    """Disable the queue's active event source mappings until they report Disabled; re-enable them after."""
    lam = live.client("lambda")
    paused: list[str] = []
    window = 0
    try:
        for page in lam.get_paginator("list_event_source_mappings").paginate(EventSourceArn=queue_arn):
            for mapping in page["EventSourceMappings"]:
                if mapping.get("State") in ACTIVE_STATES:
                    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
                    paused.append(mapping["UUID"])
                    window = max(window, mapping.get("MaximumBatchingWindowInSeconds") or 0)
        for mapping_id in paused:
            budget.until(partial(is_disabled, lam, mapping_id), "waiting for the queue's event source mappings to stop")
        if paused:
            # A poller's receive that was already waiting (up to the batching window) still takes the first
            # message that arrives, even after the mapping reports Disabled: let it return empty first.
            budget.sleep(window + POLLER_MARGIN, "waiting for the paused consumers' last receive to return")
        yield len(paused)
    finally:
        for mapping_id in paused:
            lam.update_event_source_mapping(UUID=mapping_id, Enabled=True)


def is_disabled(lam, mapping_id: str) -> bool:
    return lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"


def send_poison(sqs, url: str, attributes: dict) -> str:
    """Send a uniquely marked message; its mark."""
    marker = f"{MARK}-{uuid.uuid4().hex}"
    message: dict[str, Any] = {
        "QueueUrl": url,
        "MessageBody": json.dumps({MARK: marker, "poison": True}),
        "MessageAttributes": {MARK: {"DataType": "String", "StringValue": marker}},
    }
    if attributes.get("FifoQueue") == "true":
        message.update(MessageGroupId=MARK, MessageDeduplicationId=marker)
    else:
        message["DelaySeconds"] = 0  # visible at once even on a delay queue
    sqs.send_message(**message)
    return marker


def is_marked(message: dict, marker: str) -> bool:
    attribute = (message.get("MessageAttributes") or {}).get(MARK) or {}
    return attribute.get("StringValue") == marker or marker in message.get("Body", "")


def receive(sqs, url: str, budget: Budget, wait: int = 1) -> list[dict]:
    budget.check("receiving the poison message")
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=budget.wait_seconds(wait),
                               MessageAttributeNames=[MARK]).get("Messages", [])


def cycle(sqs, url: str, marker: str, limit: int, budget: Budget) -> tuple[int, bool]:
    """Receive and release the marked message up to ``limit`` times; (receives, whether it is gone)."""
    receives = empty = 0
    while receives < limit:
        # A released message is visible again at once: no need to wait for it unless it seems gone.
        messages = receive(sqs, url, budget, wait=0 if receives and not empty else 1)
        for message in messages:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        if any(is_marked(m, marker) for m in messages):
            receives, empty = receives + 1, 0
            continue
        empty += 1
        if empty >= EMPTY_RECEIVES:
            return receives, True
    return receives, False


def take(sqs, url: str, marker: str, budget: Budget) -> bool:
    """Find the marked message in a queue and delete it; whether it was there."""
    for _ in range(EMPTY_RECEIVES):
        messages = receive(sqs, url, budget)
        for message in messages:
            if is_marked(message, marker):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return True
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return False


def paused_note(paused: int, separator: str = ";") -> str:
    return f"{separator} {paused} event source mapping(s) paused" if paused else ""
