"""Every explicitly named resource carries the environment suffix in its name."""

from checks.assembly import Resource
from checks.relations import NAME_PROPERTY
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.naming import carries_suffix, no_suffix_message, shown


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    prop = NAME_PROPERTY[resource.type]
    name = resource.properties.get(prop)
    if name is None:
        return NOT_APPLICABLE  # CloudFormation generates a unique name from the stack name
    suffix = ctx.environment_suffix(resource.stack)
    if suffix is None:
        return no_suffix_message(resource.stack, f"{prop} is set explicitly")
    if carries_suffix(ctx.assembly, resource.stack, name, suffix):
        return None
    return (
        f"{prop} {shown(ctx.assembly, resource.stack, name)!r} does not contain the environment suffix "
        f"{suffix!r}: a second environment in the same account collides with this name"
    )


RULE = Rule(
    id="SG-NAM-001",
    title="Explicit resource names carry the environment suffix",
    severity="medium",
    concerns=("naming",),
    applies_to=tuple(NAME_PROPERTY),
    check=check,
    rationale=(
        "Physical names are unique per account and region: a queue, table, function, role or log group "
        "named without the environment suffix makes a second deployment (dev next to staging, a "
        "developer's stack, a PR preview) fail with 'already exists', or worse, makes two environments "
        "share one resource. The suffix comes from `[tool.stackgrade] environment_suffix`, else from the "
        "last `-` segment of the top-level stack name; references count (`/aws/lambda/${Fn}` carries the "
        "function's name, `${AWS::StackName}` the stack name)."
    ),
    remediation=(
        "Build every explicit name from the suffix, e.g. `queue_name=f\"orders-{environment_suffix}\"`, "
        "`function_name=f\"order-processor-{environment_suffix}\"`; or drop the explicit name and let "
        "CloudFormation generate one from the stack name."
    ),
    seeds=("004 #4 Missing Resource Naming with Environment Suffix",),
)
