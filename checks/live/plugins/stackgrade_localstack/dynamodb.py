"""DynamoDB and DynamoDB Streams served by moto inside LocalStack (no Java, no DynamoDB Local download).

LocalStack's own DynamoDB provider forwards to DynamoDB Local, which it downloads (with a Java runtime)
at first use; offline that fails. These providers hand every operation to moto, which LocalStack
already runs in-process:
- ``dynamodb:moto`` (``PROVIDER_OVERRIDE_DYNAMODB=moto``): tables, GSIs, TTL, PITR settings, streams.
- ``dynamodbstreams:moto`` (``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``): moto's stream reader over the
  same tables, so Lambda event source mappings on a table's stream receive its records (LocalStack's
  own streams provider reads Kinesis streams that only its DynamoDB provider writes).
- a start-up hook that makes LocalStack's CloudFormation handlers for ``AWS::DynamoDB::Table`` and
  ``AWS::DynamoDB::GlobalTable`` (the replica in the deployed region) apply
  ``PointInTimeRecoverySpecification``, which it ignores in 4.14 (a template's PITR would never show),
  and gives moto's table descriptions the ``TableId`` DynamoDB returns (LocalStack's handler for
  ``AWS::DynamoDB::GlobalTable`` reads it, so without it no global table deploys).
"""

from __future__ import annotations

import uuid

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
from localstack.runtime import hooks
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDBProvider(DynamodbApi):
    """No operation of its own: every call raises NotImplementedError and so falls through to moto."""


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """As above, for the streams API."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher)


def create_with_pitr(create, self, request):
    """LocalStack's table ``create``, then the template's point-in-time recovery once the table exists."""
    from localstack.services.cloudformation.resource_provider import OperationStatus

    event = create(self, request)
    spec = _pitr_specification(request.desired_state, request.region_name)
    if event.status == OperationStatus.SUCCESS and spec:
        recovery = {"PointInTimeRecoveryEnabled": bool(spec.get("PointInTimeRecoveryEnabled"))}
        if spec.get("RecoveryPeriodInDays"):
            recovery["RecoveryPeriodInDays"] = int(spec["RecoveryPeriodInDays"])
        request.aws_client_factory.dynamodb.update_continuous_backups(
            TableName=request.desired_state["TableName"], PointInTimeRecoverySpecification=recovery
        )
    return event


def _pitr_specification(properties: dict, region: str) -> dict | None:
    """A table's own PITR setting; a global table's is its replica's in the region being deployed to."""
    if "Replicas" not in properties:
        return properties.get("PointInTimeRecoverySpecification")
    replica = next((r for r in properties["Replicas"] or [] if r.get("Region") == region), {})
    return replica.get("PointInTimeRecoverySpecification")


def describe_with_table_id(describe, self, base_key: str = "TableDescription") -> dict:
    """moto's table description plus a ``TableId``: stable for the table's ARN, as DynamoDB's is for a table."""
    result = describe(self, base_key=base_key)
    result[base_key].setdefault("TableId", str(uuid.uuid5(uuid.NAMESPACE_URL, self.table_arn)))
    return result


@hooks.on_infra_start()
def apply_table_pitr() -> None:
    """Patch the CloudFormation table handler and moto's table description before any stack is created."""
    from localstack.services.dynamodb.resource_providers.aws_dynamodb_globaltable import (
        DynamoDBGlobalTableProvider,
    )
    from localstack.services.dynamodb.resource_providers.aws_dynamodb_table import DynamoDBTableProvider
    from localstack.utils.patch import Patch
    from moto.dynamodb.models.table import Table

    Patch.function(DynamoDBTableProvider.create, create_with_pitr).apply()
    Patch.function(DynamoDBGlobalTableProvider.create, create_with_pitr).apply()
    Patch.function(Table.describe, describe_with_table_id).apply()
