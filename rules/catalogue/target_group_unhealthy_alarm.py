"""Every ELBv2 target group has an unhealthy-host alarm."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import UPPER, coverage
from rules.support.values import listing

NAMESPACES = ("AWS/ApplicationELB", "AWS/NetworkELB", "AWS/GatewayELB")


def check(group: Resource, ctx: RuleContext) -> Verdict:
    found = coverage(ctx, group, "UnHealthyHostCount", NAMESPACES, UPPER, dimension="TargetGroup")
    problems = []
    for watch in found.counted:
        value = watch.metric.dimension("TargetGroup")
        if value == {"Ref": group.logical_id} and watch.alarm.stack is group.stack:
            problems.append(f"{watch.alarm.logical_id} puts the target group ARN (Ref) in the TargetGroup "
                            "dimension instead of TargetGroupFullName")
        elif not watch.metric.has_dimension("LoadBalancer"):
            problems.append(f"{watch.alarm.logical_id} has no LoadBalancer dimension")
        else:
            return None
    if problems:
        return f"the target group's UnHealthyHostCount alarm never has data: {listing(problems)}"
    return f"no alarm watches the target group's {found.gap(UPPER)}"


RULE = Rule(
    id="SG-ALM-008",
    title="Target groups have an unhealthy-host alarm",
    severity="high",
    concerns=("alarms",),
    applies_to=("AWS::ElasticLoadBalancingV2::TargetGroup",),
    check=check,
    rationale=(
        "When targets fail their health checks the load balancer quietly routes around them until none "
        "is left. An alarm on UnHealthyHostCount (firing when above zero) shows the first failing target. "
        "The metric exists per TargetGroup and LoadBalancer: the TargetGroup dimension takes the target "
        "group's full name (`Fn::GetAtt TargetGroupFullName`, `targetgroup/<name>/<id>`), not its ARN, and "
        "an alarm without the LoadBalancer dimension never receives data."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"ApiUnhealthy\", metric=target_group.metrics.unhealthy_host_count(), "
        "threshold=1, evaluation_periods=2, comparison_operator="
        "cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)` (the CDK metric sets both "
        "dimensions) plus an SNS action."
    ),
    seeds=("001 #2 Eight CloudWatch Alarms",),
)
