"""Resources an operator or a test needs (API, queues, tables, topics, state machines) are stack outputs."""

from __future__ import annotations


from checks.assembly import Resource
from checks.config import DEFAULT_REQUIRED_OUTPUT_TYPES
from checks.relations import NAME_PROPERTY
from rules.rule import NOT_APPLICABLE, Rule, RuleContext, Verdict

# What an output of each type gives its reader (for the message).
IDENTIFIER = {
    "AWS::ApiGateway::RestApi": "endpoint URL",
    "AWS::ApiGatewayV2::Api": "endpoint URL",
    "AWS::SQS::Queue": "queue URL",
    "AWS::DynamoDB::Table": "table name",
    "AWS::DynamoDB::GlobalTable": "table name",
    "AWS::SNS::Topic": "topic ARN",
    "AWS::StepFunctions::StateMachine": "state machine ARN",
    "AWS::Lambda::Function": "function name",
    "AWS::Kinesis::Stream": "stream name",
    "AWS::S3::Bucket": "bucket name",
}

# ``applies_to`` is fixed when the rule is defined while ``required_output_types`` is configurable:
# the rule visits these candidates and checks those the configuration names.
CANDIDATE_TYPES: tuple[str, ...] = tuple(sorted(
    set(DEFAULT_REQUIRED_OUTPUT_TYPES) | set(NAME_PROPERTY) | set(IDENTIFIER) | {
        "AWS::Cognito::UserPool", "AWS::ECR::Repository", "AWS::EFS::FileSystem", "AWS::Events::EventBus",
        "AWS::Kinesis::StreamConsumer", "AWS::KMS::Key", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance",
        "AWS::SecretsManager::Secret",
    }
))

def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if resource.type not in ctx.config.required_output_types:
        return NOT_APPLICABLE
    top = resource.stack.top_level
    if ctx.relations.is_output(resource):
        return None
    what = IDENTIFIER.get(resource.type, "identifier")
    return (f"no output of stack {top.name!r} refers to this {resource.type.split('::')[-1]}: operators and "
            f"integration tests must look its {what} up by hand")


RULE = Rule(
    id="SG-OUT-003",
    title="Key resources are exposed as stack outputs",
    severity="medium",
    concerns=("outputs",),
    applies_to=CANDIDATE_TYPES,
    check=check,
    rationale=(
        "An operator draining a DLQ, a runbook replaying messages, and an integration test calling the "
        "API all start from the stack's outputs. Each resource of a type in `required_output_types` "
        "(default: REST APIs, SQS queues including DLQs, DynamoDB tables, SNS topics, state machines) must "
        "be referenced by an output of its top-level stack; a REST API counts when an output's endpoint "
        "URL refers to it (`api.url`). Outputs of nested stacks do not count: they are CDK's cross-stack "
        "plumbing, not printed by `cdk deploy`."
    ),
    remediation=(
        "Add a described, exported output per resource in the top-level stack, e.g. "
        "`CfnOutput(self, \"OrderDlqUrl\", value=dlq.queue_url, description=..., export_name=...)`, "
        "`CfnOutput(self, \"ApiEndpoint\", value=api.url, ...)`; for resources inside a NestedStack, "
        "create the CfnOutput in the parent stack with the nested construct's attribute as its value. "
        "Change the checked types with `[tool.stackgrade] required_output_types`."
    ),
    seeds=("002 #10 Missing CloudFormation Outputs", "003 #10 Incomplete Stack Outputs"),
)
