"""Every output of a top-level stack has a description."""

from checks.assembly import Stack
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict


def check(stack: Stack, ctx: RuleContext) -> Verdict:
    # Only top-level stacks are subjects: nested-stack outputs are CDK's cross-stack plumbing.
    if not stack.outputs:
        return NOT_APPLICABLE  # SG-OUT-003 asks for the outputs that should be there
    undescribed = [oid for oid, output in stack.outputs.items()
                   if not isinstance(output, dict) or not str(output.get("Description") or "").strip()]
    if undescribed:
        return (f"{len(undescribed)} of {len(stack.outputs)} outputs have no Description: "
                f"{', '.join(sorted(undescribed))}")
    return None


RULE = Rule(
    id="SG-OUT-001",
    title="Stack outputs have a description",
    severity="low",
    concerns=("outputs",),
    scope="stack",
    check=check,
    rationale=(
        "Outputs are the stack's interface for operators, runbooks and integration tests; an output "
        "without a description (such as the `Endpoint8024A810` CDK adds for a RestApi) leaves the reader "
        "guessing what it is and whether anything depends on it."
    ),
    remediation=(
        "Pass `description=` to every output: `CfnOutput(self, \"OrderQueueUrl\", value=queue.queue_url, "
        "description=\"URL of the order queue\", export_name=...)`. For a RestApi, drop the bare output CDK "
        "adds (`api.node.try_remove_child(\"Endpoint\")`) and output `api.url` with a description instead."
    ),
    seeds=("002 #10 Missing CloudFormation Outputs",),
)
