"""Every CloudWatch alarm does something when it goes off."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import actions, actions_disabled, consumer_of


def check(alarm: Resource, ctx: RuleContext) -> Verdict:
    if actions(ctx, alarm):
        return None
    if consumer_of(ctx, alarm):
        return None  # a composite alarm or a CodeDeploy rollback reads its state
    if actions_disabled(ctx, alarm):
        return "alarm has ActionsEnabled: false, so going to ALARM notifies no one and triggers nothing"
    if alarm.properties.get("OKActions") or alarm.properties.get("InsufficientDataActions"):
        return "alarm acts only on OK or INSUFFICIENT_DATA: going to ALARM notifies no one and triggers nothing"
    return "alarm has no AlarmActions: going to ALARM notifies no one and triggers nothing"


RULE = Rule(
    id="SG-ACT-001",
    title="Alarms have an alarm action",
    severity="high",
    concerns=("alarm-actions",),
    applies_to=("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"),
    check=check,
    rationale=(
        "An alarm without AlarmActions (or with ActionsEnabled: false) changes colour on a console nobody "
        "watches. Alarms whose state is read elsewhere pass: children of a composite alarm (the composite "
        "notifies) and alarms a CodeDeploy deployment group rolls back on."
    ),
    remediation=(
        "`alarm.add_alarm_action(cw_actions.SnsAction(topic))` (CloudFormation: `AlarmActions: [!Ref "
        "AlarmTopic]`), or combine silent alarms in a `cloudwatch.CompositeAlarm` that has the action."
    ),
    seeds=("001 #3 Alarm Action Integration", "002 #8 Missing CloudWatch Alarms"),
)
