"""Taggable resources carry every configured cost-allocation tag."""

from checks.assembly import Resource
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict
from rules.support.tags import TAGGABLE, inherited_tag_keys, tag_keys


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    required = ctx.config.required_tags
    if not required:
        return NOT_APPLICABLE
    present = tag_keys(resource) | inherited_tag_keys(ctx.assembly, resource.stack)
    missing = [tag for tag in required if tag not in present]
    if missing:
        return f"resource lacks required tag(s) {', '.join(missing)} (neither on it nor on its stack)"
    return None


RULE = Rule(
    id="SG-TAG-001",
    title="Resources carry the required tags",
    severity="low",
    concerns=("tags", "cost"),
    applies_to=tuple(TAGGABLE),
    check=check,
    rationale=(
        "Cost-allocation tags are how a bill is split by project, environment and team; an untagged queue "
        "or function lands in 'unallocated' and nobody owns its cost. Set the tags your organization "
        "requires in `[tool.stackgrade] required_tags` (the rule does nothing while the list is empty). "
        "Tags on the resource count, and so do the stack's tags (CloudFormation propagates them, including "
        "a nested stack's `Tags`). Tag keys are case-sensitive."
    ),
    remediation=(
        "Tag the whole app or stack once: `cdk.Tags.of(app).add(\"CostCenter\", \"trading\")` (CDK applies it "
        "to every taggable resource) or `Stack(..., tags={\"Project\": ..., \"Environment\": ...})`; "
        "then activate the keys as cost-allocation tags in the Billing console."
    ),
    seeds=("004 #3 Missing Advanced Service Configurations (cost allocation tags)",),
)
