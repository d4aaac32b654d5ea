"""Every alarm's actions reach an SNS topic (auto-scaling alarms excepted)."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.alarms import SCALING, SNS, UNKNOWN, actions
from rules.support.values import listing


def check(alarm: Resource, ctx: RuleContext) -> Verdict:
    classified = actions(ctx, alarm)
    if not classified:
        return NOT_APPLICABLE  # SG-ACT-001 reports alarms without actions
    kinds = {a.kind for a in classified}
    if kinds == {SCALING}:
        return NOT_APPLICABLE  # it adjusts capacity; it is not meant to notify
    if SNS in kinds or UNKNOWN in kinds:
        return None  # UNKNOWN: a parameter or an import from outside the app; we cannot see it
    return (f"alarm's actions ({listing(a.label for a in classified)}) reach no SNS "
            "topic, so nobody is notified when it goes to ALARM")


RULE = Rule(
    id="SG-ACT-002",
    title="Alarm actions notify an SNS topic",
    severity="medium",
    concerns=("alarm-actions",),
    applies_to=("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"),
    check=check,
    rationale=(
        "People and paging tools subscribe to SNS topics; an alarm that only reboots an instance, runs a "
        "Lambda function or opens an OpsItem acts, but nobody learns that it fired. An action counts when "
        "it refers to an AWS::SNS::Topic of the app (through Ref, GetAtt, nested stacks or exports) or is "
        "an `arn:...:sns:...` ARN. Alarms whose actions are all auto-scaling policies are not checked "
        "(they act, they do not notify; SG-ALM-004 and the other alarm rules make sure a notifying alarm "
        "watches the same metric); values the app cannot resolve (a parameter without default, an export "
        "of another app) are given the benefit of the doubt."
    ),
    remediation=(
        "Add `alarm.add_alarm_action(cw_actions.SnsAction(topic))` next to the other actions, with the team's "
        "email or paging endpoint subscribed to `topic`."
    ),
    seeds=("000 #2 SNS Topic for Alarm Notifications", "001 #3 Alarm Action Integration"),
)
