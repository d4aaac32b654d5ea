"""The five reference systems, where each is specified and where its stack lives."""

from __future__ import annotations

import enum
import importlib
import re
from dataclasses import dataclass


class Variant(str, enum.Enum):
    """Which implementation of a seed to build."""

    IDEAL = "ideal"
    BASELINE = "baseline"


VARIANTS: tuple[str, ...] = tuple(v.value for v in Variant)
SUFFIX_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$")


@dataclass(frozen=True)
class ReferenceSystem:
    """One seed's system: its name, seed document and CDK stack class."""

    name: str
    seed: str
    summary: str
    stack_class_path: str

    @property
    def stack_class(self) -> type:
        """Import the stack class on demand, so one system's import never breaks another's."""
        module_name, _, class_name = self.stack_class_path.partition(":")
        return getattr(importlib.import_module(module_name), class_name)

    def stack_name(self, variant: str, environment_suffix: str) -> str:
        """``webhook_pipeline``/``ideal``/``dev`` -> ``WebhookPipeline-ideal-dev``."""
        pascal = "".join(part.capitalize() for part in self.name.split("_"))
        return f"{pascal}-{variant}-{environment_suffix}"


SYSTEMS: dict[str, ReferenceSystem] = {
    system.name: system
    for system in (
        ReferenceSystem(
            "webhook_pipeline",
            "000_db882cd476b19c3d.txt",
            "Serverless webhook processing: API Gateway, 3 functions, 3 queues + 3 DLQs",
            "reference_stacks.webhook_pipeline.stack:WebhookPipelineStack",
        ),
        ReferenceSystem(
            "order_processing_fargate",
            "001_cf46334840aeeb51.txt",
            "ECS Fargate API and worker services behind an ALB, SQS + DLQ, queue-depth scaling",
            "reference_stacks.order_processing_fargate.stack:OrderProcessingFargateStack",
        ),
        ReferenceSystem(
            "payments_dr",
            "002_8ae9ac350be0ce4b.txt",
            "Multi-region DR payments: DynamoDB global table, validator/processor/failover functions",
            "reference_stacks.payments_dr.stack:PaymentsDrStack",
        ),
        ReferenceSystem(
            "order_pipeline",
            "003_1541231e192a00cb.txt",
            "E-commerce orders: API -> handler -> SQS -> processor -> DynamoDB (GSI) -> SNS",
            "reference_stacks.order_pipeline.stack:OrderPipelineStack",
        ),
        ReferenceSystem(
            "pattern_detection",
            "004_cedd2c14ea20e075.txt",
            "Stock pattern detection in five nested stacks: Kinesis, Step Functions, WAF, canary",
            "reference_stacks.pattern_detection.stack:PatternDetectionStack",
        ),
    )
}


class UnknownReferenceError(ValueError):
    """A system, variant or suffix that the catalogue does not accept."""


def resolve(system: str, variant: str, environment_suffix: str) -> ReferenceSystem:
    """Check a (system, variant, suffix) request and return its system, or say what is allowed."""
    if system not in SYSTEMS:
        raise UnknownReferenceError(
            f"unknown system {system!r}; choose one of: {', '.join(SYSTEMS)}"
        )
    if variant not in VARIANTS:
        raise UnknownReferenceError(
            f"unknown variant {variant!r}; choose one of: {', '.join(VARIANTS)}"
        )
    if not SUFFIX_PATTERN.match(environment_suffix):
        raise UnknownReferenceError(
            f"environment suffix {environment_suffix!r} must be 1-20 lowercase letters, digits"
            " or inner hyphens (it becomes part of queue, bucket and stack names)"
        )
    return SYSTEMS[system]
