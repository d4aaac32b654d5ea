"""Stateful resources state what happens to their data when the stack deletes or replaces them."""

from checks.assembly import Resource
from rules.rule import Rule, RuleContext, Verdict

# Type -> what an implicit deletion throws away (for the message).
STATEFUL = {
    "AWS::DynamoDB::Table": "the table's items",
    "AWS::DynamoDB::GlobalTable": "the table's items in every replica",
    "AWS::S3::Bucket": "the bucket's objects (and a non-empty bucket fails the delete)",
    "AWS::SQS::Queue": "the messages in flight",
    "AWS::Kinesis::Stream": "the records not yet consumed",
    "AWS::Logs::LogGroup": "the log events",
    "AWS::KMS::Key": "the key, and with it every ciphertext it encrypted",
    "AWS::RDS::DBInstance": "the database",
    "AWS::RDS::DBCluster": "the database",
    "AWS::EFS::FileSystem": "the file system's files",
    "AWS::Cognito::UserPool": "every user account",
}


def default_policy(resource: Resource) -> str:
    """CloudFormation's DeletionPolicy when none is written."""
    if resource.type == "AWS::RDS::DBCluster" or (
        resource.type == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in resource.properties
    ):
        return "Snapshot"
    return "Delete"


def check(resource: Resource, ctx: RuleContext) -> Verdict:
    if resource.deletion_policy is None:
        return (f"no DeletionPolicy: CloudFormation's default ({default_policy(resource)}) decides the fate of "
                f"{STATEFUL[resource.type]} when the stack is deleted or the resource removed from it")
    return None


RULE = Rule(
    id="SG-RMV-001",
    title="Stateful resources have an explicit deletion policy",
    severity="low",
    concerns=("backup",),
    applies_to=tuple(STATEFUL),
    check=check,
    rationale=(
        "Without a DeletionPolicy, CloudFormation deletes most resources with the stack (RDS clusters and "
        "instances are snapshotted), while CDK's L2 constructs pick their own defaults (tables, buckets, "
        "log groups, keys and user pools RETAIN, queues DESTROY) and L1 `Cfn*` constructs pick none. "
        "This rule protects the data in tables, buckets, queues, streams, log groups, databases, file "
        "systems and user pools, and the KMS keys that decrypt it: whether that data is kept or deleted "
        "(a dev stack) must be a decision written in the template, not an accident of which construct "
        "created the resource."
    ),
    remediation=(
        "Set `removal_policy=RemovalPolicy.RETAIN` (or SNAPSHOT for databases) in production and "
        "`RemovalPolicy.DESTROY` for ephemeral environments on every stateful construct, e.g. "
        "`dynamodb.Table(..., removal_policy=RemovalPolicy.RETAIN)`, or `cfn.apply_removal_policy(...)` "
        "on an L1 construct; CDK writes it as DeletionPolicy and UpdateReplacePolicy."
    ),
    seeds=("002 #14 Missing Resource Removal Policies",),
)
