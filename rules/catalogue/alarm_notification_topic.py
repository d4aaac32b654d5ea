"""A stack with alarms notifies at least one SNS topic.

Stack scope (a top-level stack with its nested stacks), not app scope: each
stack deploys to one account and region, and an app whose primary stack
notifies a topic while its secondary-region stack notifies nothing would pass
an app-wide check. A topic of another stack still counts when an alarm's
action refers to it (exports, nested-stack outputs, a literal ARN).
"""

from checks.assembly import Stack
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.alarms import SCALING, SNS, UNKNOWN, actions, agree, alarms_of_stack
from rules.support.values import listing


def check(stack: Stack, ctx: RuleContext) -> Verdict:
    alarms = alarms_of_stack(ctx, stack)
    if not alarms:
        return NOT_APPLICABLE
    silent, scaling = [], []
    for alarm in alarms:
        kinds = {a.kind for a in actions(ctx, alarm)}
        if SNS in kinds or UNKNOWN in kinds:
            return None
        (scaling if kinds == {SCALING} else silent).append(alarm.logical_id)
    parts = []
    if scaling:
        parts.append(f"{listing(scaling)} only {agree(scaling, 'triggers', 'trigger')} auto-scaling")
    if silent:
        parts.append(f"{listing(silent)} {agree(silent, 'has', 'have')} no action that reaches SNS")
    return (f"none of the stack's {len(alarms)} alarms notifies an SNS topic ({'; '.join(parts)}): "
            "there is no channel through which anyone hears about a problem")


RULE = Rule(
    id="SG-ACT-003",
    title="Stacks with alarms have a notification topic",
    severity="high",
    concerns=("alarm-actions",),
    applies_to=(),
    scope="stack",
    check=check,
    rationale=(
        "Alarms are only as good as the channel they report to. A stack (with its nested stacks) that "
        "defines alarms needs at least one SNS topic that some alarm notifies, for the team to subscribe "
        "email, chat or paging to. The check is per stack, because each stack deploys to its own account "
        "and region; a topic of another stack counts when an alarm refers to it."
    ),
    remediation=(
        "`topic = sns.Topic(self, \"AlarmTopic\", topic_name=f\"alerts-{suffix}\")`, "
        "`topic.add_subscription(subs.EmailSubscription(ops_email))`, and "
        "`alarm.add_alarm_action(cw_actions.SnsAction(topic))` on every operator alarm; export the topic "
        "ARN as an output."
    ),
    seeds=("000 #2 SNS Topic for Alarm Notifications", "001 #1 SNS Topic for Centralized Alerting",
           "002 #6 Missing SNS Topics for Notifications"),
)
