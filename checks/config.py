"""stackgrade settings: ``[tool.stackgrade]`` in pyproject.toml, or a stackgrade.toml, validated.

Every key is optional; unknown keys and wrong types are errors that name the
key and the file, so a typo never silently turns a check off. Types are
strict: TOML has real integers and booleans, so ``"14"`` or ``"no"`` is a
mistake, not a value to coerce.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from checks.finding import SEVERITIES

# Actions AWS grants only on "*": allowing them on "*" is not over-broad.
DEFAULT_WILDCARD_RESOURCE_ACTIONS: tuple[str, ...] = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "ssm:DescribeParameters",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)

DEFAULT_REQUIRED_OUTPUT_TYPES: tuple[str, ...] = (
    "AWS::ApiGateway::RestApi",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
)


class ConfigError(ValueError):
    """Invalid stackgrade settings; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Numbers the rules compare against."""

    dlq_min_retention_days: StrictInt = Field(14, ge=1, le=14)
    max_receive_count_min: StrictInt = Field(1, ge=1)
    max_receive_count_max: StrictInt = Field(10, ge=1)
    visibility_timeout_factor: float = Field(6.0, gt=0, strict=True)  # strict still takes an integer
    function_timeout_default_seconds: StrictInt = Field(3, ge=1)
    queue_visibility_default_seconds: StrictInt = Field(30, ge=0)

    @model_validator(mode="after")
    def _receive_count_range(self) -> Thresholds:
        if self.max_receive_count_min > self.max_receive_count_max:
            raise ValueError("max_receive_count_min must not exceed max_receive_count_max")
        return self


SeverityName = Literal[SEVERITIES]  # type: ignore[valid-type]  # Literal of a tuple: each of its values


class GateSettings(_Strict):
    """When the gate fails (checks/gate.py)."""

    min_score: float = Field(7.0, ge=0, le=10, strict=True, description="overall score (0-10) the app must reach")
    fail_on: tuple[SeverityName, ...] = Field(
        ("critical", "high"), description="severities of which one unsuppressed finding fails the gate"
    )

    @field_validator("fail_on")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a severity twice")
        return value


class SuppressionSetting(_Strict):
    """One ``[[tool.stackgrade.suppressions]]`` entry: a rule silenced on matching resources, with a reason."""

    rule: StrictStr = Field(description="any engine's rule id (fnmatch pattern), e.g. CKV_AWS_117")
    resource: StrictStr = Field("*", description="fnmatch pattern over the logical ID or the construct path")
    stack: StrictStr = Field("*", description="fnmatch pattern over the stack name")
    reason: StrictStr | None = Field(None, description="why; a suppression without one is itself a finding")

    @field_validator("rule", "resource", "stack")
    @classmethod
    def _pattern_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("reason")
    @classmethod
    def _blank_reason_is_none(cls, value: str | None) -> str | None:
        # A blank reason explains nothing: treat it like a missing one (it is reported as a finding).
        return value if value is not None and value.strip() else None


class StackgradeConfig(_Strict):
    """All settings; defaults are what the reference stacks are graded with."""

    environment_suffix: StrictStr | None = Field(
        None, description="the suffix every physical name must carry; detected from the stack name when unset"
    )
    required_tags: tuple[StrictStr, ...] = ()
    required_output_types: tuple[StrictStr, ...] = DEFAULT_REQUIRED_OUTPUT_TYPES
    iam_wildcard_resource_actions: tuple[StrictStr, ...] = DEFAULT_WILDCARD_RESOURCE_ACTIONS
    rules: dict[str, StrictBool] = Field(default_factory=dict, description="rule id -> enabled")
    thresholds: Thresholds = Thresholds()
    gate: GateSettings = GateSettings()
    suppressions: tuple[SuppressionSetting, ...] = ()

    @field_validator("environment_suffix")
    @classmethod
    def _suffix_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    def enabled(self, rule_id: str) -> bool:
        return self.rules.get(rule_id, True)


def parse_config(data: dict[str, Any], origin: str = "settings") -> StackgradeConfig:
    """Validate a settings mapping; :class:`ConfigError` lists every problem with its key."""
    try:
        return StackgradeConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from None


def load_config(directory: str | Path = ".") -> StackgradeConfig:
    """Settings from ``stackgrade.toml`` or ``pyproject.toml`` ``[tool.stackgrade]`` in ``directory``."""
    directory = Path(directory)
    for path, table in ((directory / "stackgrade.toml", ()), (directory / "pyproject.toml", ("tool", "stackgrade"))):
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
        for key in table:
            data = data.get(key) if isinstance(data, dict) else None
        if table and data is None:
            continue  # a pyproject.toml without [tool.stackgrade]
        origin = f"{path} [tool.stackgrade]" if table else str(path)
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: must be a table")
        return parse_config(data, origin)
    return StackgradeConfig()
