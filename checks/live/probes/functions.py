"""Deployed Lambda functions keep the template's tracing mode and reserved concurrency.

Only what the template sets literally is compared (a setting left to its default, or computed by an
intrinsic function, says nothing to compare with). LocalStack 4.14's own CloudFormation does not apply
``ReservedConcurrentExecutions``; our plugins make the embedded LocalStack apply it. So a function that
shows none fails on the embedded LocalStack and is reported as not emulated on an external one; one that
shows a different value fails.
"""

from __future__ import annotations

from functools import partial

from checks.assembly import Resource
from checks.live.environment import LOCALSTACK_VERSION
from checks.live.probes import Budget, Live, Probe, Verdict, failed, not_emulated, passed

FUNCTION = "AWS::Lambda::Function"


def plan(live: Live) -> list[Probe]:
    probes = []
    for function in live.assembly.resources(FUNCTION):
        mode = live.literal(function, "TracingConfig", "Mode")
        if isinstance(mode, str):
            probes.append(Probe("tracing", function.stack.name, function.logical_id, function.type,
                                partial(probe_tracing, function, mode)))
        reserved = live.literal(function, "ReservedConcurrentExecutions")
        if isinstance(reserved, str) and reserved.isdigit():
            probes.append(Probe("reserved-concurrency", function.stack.name, function.logical_id, function.type,
                                partial(probe_reserved_concurrency, function, int(reserved))))
    return probes


def probe_tracing(function: Resource, mode: str, live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(function)
    budget.check("reading the function's configuration")
    configuration = live.client("lambda").get_function_configuration(FunctionName=name)
    deployed = (configuration.get("TracingConfig") or {}).get("Mode", "PassThrough")
    if deployed != mode:
        return failed(f"tracing mode is {deployed} on the deployed function, the template says {mode}")
    return passed(f"tracing mode {mode}, as the template says")


def probe_reserved_concurrency(function: Resource, reserved: int, live: Live, budget: Budget) -> Verdict:
    name = live.require_physical_id(function)
    budget.check("reading the function's concurrency")
    deployed = live.client("lambda").get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    if deployed is None and live.applies_all_settings:
        return failed(f"the deployed function reserves no concurrency, the template says {reserved}")
    if deployed is None:
        return not_emulated(f"the deployed function reserves no concurrency (template: {reserved}); the external "
                            f"LocalStack's CloudFormation may not apply ReservedConcurrentExecutions (LocalStack "
                            f"{LOCALSTACK_VERSION}'s does not without stackgrade's plugins)")
    if deployed != reserved:
        return failed(f"reserved concurrency is {deployed} on the deployed function, the template says {reserved}")
    return passed(f"reserved concurrency {reserved}, as the template says")
