"""Every ECS service has CPU, memory and running-task alarms."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict
from rules.support.alarms import LOWER, UPPER, Coverage, agree, coverage
from rules.support.values import either, listing

REQUIRED = (
    ("CPUUtilization", ("AWS/ECS",), UPPER),
    ("MemoryUtilization", ("AWS/ECS",), UPPER),
    ("RunningTaskCount", ("ECS/ContainerInsights",), LOWER),
)


def _drop_dataless(ctx: RuleContext, service: Resource, found: Coverage,
                   no_cluster: list[str], other_cluster: list[str]) -> None:
    """Keep only watches whose metric can have data for this service; note the others."""
    own = {id(c) for c in ctx.relations.resolve(service.stack, service.properties.get("Cluster"))}
    kept = []
    for watch in found.counted:
        if not watch.metric.has_dimension("ClusterName"):
            no_cluster.append(watch.alarm.logical_id)
            continue
        named = {id(c) for c in ctx.relations.resolve(watch.alarm.stack, watch.metric.dimension("ClusterName"))}
        if own and named and not own & named:
            other_cluster.append(watch.alarm.logical_id)
            continue
        kept.append(watch)
    found.counted[:] = kept


def check(service: Resource, ctx: RuleContext) -> Verdict:
    gaps: list[str] = []
    no_cluster: list[str] = []
    other_cluster: list[str] = []
    for metric, namespaces, direction in REQUIRED:
        found = coverage(ctx, service, metric, namespaces, direction, dimension="ServiceName")
        _drop_dataless(ctx, service, found, no_cluster, other_cluster)
        if not found.counted:
            gaps.append(found.gap(direction))
    if not gaps:
        return None
    notes = []
    if no_cluster:
        notes.append(f"{listing(no_cluster)} {agree(no_cluster, 'lacks', 'lack')} the ClusterName dimension, "
                     "so the metric never has data")
    if other_cluster:
        notes.append(f"{listing(other_cluster)} {agree(other_cluster, 'names', 'name')} another cluster than the "
                     "service's")
    return f"no alarm watches the service's {either(gaps)}" + (f"; {'; '.join(notes)}" if notes else "")

RULE = Rule(
    id="SG-ALM-007",
    title="ECS services have CPU, memory and running-task alarms",
    severity="high",
    concerns=("alarms",),
    applies_to=("AWS::ECS::Service",),
    check=check,
    rationale=(
        "A service that runs out of CPU or memory degrades, and one whose tasks keep crashing runs nothing "
        "at all while the deployment still looks fine. Each service needs alarms on AWS/ECS CPUUtilization "
        "and MemoryUtilization (firing when high) and on ECS/ContainerInsights RunningTaskCount (firing "
        "when low). ECS metrics exist per ClusterName and ServiceName together, so an alarm without the "
        "ClusterName dimension watches a metric that never has data. RunningTaskCount needs Container "
        "Insights on the cluster. Alarms that only drive auto-scaling do not count."
    ),
    remediation=(
        "`cloudwatch.Alarm(self, \"ApiCpu\", metric=service.metric_cpu_utilization(), threshold=80, ...)`, "
        "`service.metric_memory_utilization()`, and `cloudwatch.Metric(namespace=\"ECS/ContainerInsights\", "
        "metric_name=\"RunningTaskCount\", dimensions_map={\"ClusterName\": cluster.cluster_name, "
        "\"ServiceName\": service.service_name})` with `threshold=1, comparison_operator="
        "cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD`; enable `container_insights=True` on the "
        "cluster and add an SNS action to each alarm."
    ),
    seeds=("001 #2 Eight CloudWatch Alarms",),
)
