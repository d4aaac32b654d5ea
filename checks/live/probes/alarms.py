"""Every alarm whose actions name an SNS topic notifies a subscriber of that topic when it goes to ALARM.

One temporary SQS queue per topic is subscribed for the whole run (a ``Tap``); each alarm is set to
ALARM with ``SetAlarmState`` and its notification awaited on every topic it names, then its state is
put back. The taps are unsubscribed and deleted when the probes end.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from functools import partial

from checks.assembly import Resource
from checks.live.probes import Budget, Live, Probe, ProbeFailed, Verdict, failed, is_sns_arn, passed

KIND = "alarm"
ALARM = "AWS::CloudWatch::Alarm"
REASON = "stackgrade live probe"
POLL_SECONDS = 1


def plan(live: Live) -> list[Probe]:
    probes = []
    for alarm in live.assembly.resources(ALARM):
        actions = alarm.prop("AlarmActions")
        topics = [t for t in live.relations.alarm_action_targets(alarm) if t.type == "AWS::SNS::Topic"]
        literal = [a for a in (actions if isinstance(actions, list) else []) if is_sns_arn(a)]
        if topics or literal:
            probes.append(Probe(KIND, alarm.stack.name, alarm.logical_id, alarm.type,
                                partial(probe_alarm, alarm, topics, literal)))
    return probes


def probe_alarm(alarm: Resource, topics: list[Resource], literal: list[str], live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(alarm)
    cloudwatch = live.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not found:
        raise ProbeFailed(f"alarm {name} does not exist")
    actions = found[0].get("AlarmActions") or []
    expected = [live.physical_id(t) or t.logical_id for t in topics] + literal
    missing = [arn for arn in expected if arn not in actions]
    if missing:
        return failed(f"the deployed alarm's actions {actions} lack the template's topic(s) {missing}")
    topic_arns = [a for a in actions if is_sns_arn(a)]
    taps = [live.shared(("tap", arn), partial(Tap.subscribe, live, arn)) for arn in topic_arns]
    previous = found[0].get("StateValue")
    if previous == "ALARM":  # only a transition notifies
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason=REASON)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=REASON)
    try:
        silent = [tap.topic_arn for tap in taps if not tap.wait_for(name, budget)]
    finally:
        restore = previous if previous in ("OK", "INSUFFICIENT_DATA") else "OK"
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=restore, StateReason=f"{REASON} done")
    topics_text = ", ".join(arn.rsplit(":", 1)[-1] for arn in topic_arns)
    if silent:
        return failed(f"set to ALARM, but no notification reached a subscriber of "
                      f"{', '.join(arn.rsplit(':', 1)[-1] for arn in silent)} within {budget.seconds:g} s")
    return passed(f"set to ALARM, a subscriber of {topics_text} was notified")


@dataclass
class Tap:
    """A temporary SQS queue subscribed to one topic; collects the alarm notifications it receives."""

    live: Live
    topic_arn: str
    queue_url: str
    subscription_arn: str
    seen: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def subscribe(cls, live: Live, topic_arn: str) -> Tap:
        sqs, sns = live.client("sqs"), live.client("sns")
        try:
            sns.get_topic_attributes(TopicArn=topic_arn)
        except sns.exceptions.NotFoundException:
            raise ProbeFailed(f"the alarm's topic {topic_arn} does not exist") from None
        queue_name = f"{live.run_tag}-{uuid.uuid4().hex[:8]}"
        queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        live.on_close(partial(sqs.delete_queue, QueueUrl=queue_url))
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                           "Action": "sqs:SendMessage", "Resource": queue_arn,
                           "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}],
        })})
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                                     ReturnSubscriptionArn=True)["SubscriptionArn"]
        live.on_close(partial(sns.unsubscribe, SubscriptionArn=subscription))
        return cls(live, topic_arn, queue_url, subscription)

    def wait_for(self, alarm_name: str, budget: Budget) -> bool:
        """True once an ALARM notification of ``alarm_name`` arrived (now or earlier), False when time is up."""
        sqs = self.live.client("sqs")
        with self.lock:
            while (alarm_name, "ALARM") not in self.seen:
                wait = budget.wait_seconds(POLL_SECONDS)
                if budget.remaining() <= 0:
                    return False
                response = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
                for message in response.get("Messages", []):
                    self.seen.add(notification_of(message["Body"]))
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return True


def notification_of(body: str) -> tuple[str, str]:
    """(alarm name, new state) of an SNS-delivered CloudWatch alarm notification; ("", "") for anything else."""
    try:
        message = json.loads(json.loads(body)["Message"])
        return str(message["AlarmName"]), str(message["NewStateValue"])
    except (ValueError, KeyError, TypeError):
        return "", ""
