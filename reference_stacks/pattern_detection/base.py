"""What every pattern-detection nested stack shares: the variant and the suffixed naming."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from reference_stacks.common import Variant, expiring_log_group, named

METRICS_NAMESPACE = "StockPatternDetection"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class PatternNestedStack(cdk.NestedStack):
    """A nested stack of the pattern-detection system in one variant."""

    def __init__(
        self, scope: Construct, construct_id: str, *, variant: Variant, environment_suffix: str, description: str
    ) -> None:
        super().__init__(scope, construct_id, description=description)
        self.variant = variant
        self.suffix = environment_suffix

    @property
    def ideal(self) -> bool:
        return self.variant is Variant.IDEAL

    def name(self, base: str) -> str:
        """``<base>-<suffix>`` in the ideal; the baseline used fixed names that collide across environments."""
        return named(base, self.suffix) if self.ideal else base

    def log_group(self, construct_id: str, log_group_name: str) -> logs.LogGroup:
        return expiring_log_group(self, construct_id, log_group_name=log_group_name, retention=LOG_RETENTION)
