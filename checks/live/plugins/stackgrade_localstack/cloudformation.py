"""Template settings that LocalStack 4.14's CloudFormation handlers accept but never apply.

A start-up hook wraps two resource handlers so that a deployed resource shows what its template says
(otherwise the live probes could only report these settings as not emulated):
- ``AWS::Logs::LogGroup``: ``create`` makes the group without ``RetentionInDays`` (it never calls
  ``PutRetentionPolicy``) and ``update`` is not implemented (the engine keeps the old state). Wrapped:
  the retention is put after create; on update it is put, or deleted when the template drops it.
- ``AWS::Lambda::Function``: neither ``create`` nor ``update`` applies ``ReservedConcurrentExecutions``
  (no ``PutFunctionConcurrency``). Wrapped: put once the function is active; removed on an update that
  drops it. A value the account cannot reserve fails the resource, as on AWS.
"""

from __future__ import annotations

from localstack.runtime import hooks


def _succeeded(event) -> bool:
    from localstack.services.cloudformation.resource_provider import OperationStatus

    return event.status == OperationStatus.SUCCESS


def create_log_group_with_retention(create, self, request):
    """LocalStack's log group ``create``, then the template's retention on the created group."""
    event = create(self, request)
    days = request.desired_state.get("RetentionInDays")
    if _succeeded(event) and days is not None:
        request.aws_client_factory.logs.put_retention_policy(
            logGroupName=event.resource_model["LogGroupName"], retentionInDays=int(days))
    return event


def update_log_group_retention(update, self, request):
    """An update of the retention alone (LocalStack 4.14 implements no log group update).

    The name is create-only: a new name is a replacement, left to LocalStack as before. Other
    properties stay as LocalStack 4.14 leaves them (unchanged on the deployed group).
    """
    previous, desired = request.previous_state or {}, request.desired_state
    name = previous.get("LogGroupName")
    if not name or desired.get("LogGroupName", name) != name:
        return update(self, request)
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent

    logs = request.aws_client_factory.logs
    days = desired.get("RetentionInDays")
    if days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(days))
    elif previous.get("RetentionInDays") is not None:
        logs.delete_retention_policy(logGroupName=name)
    model = {**desired, "LogGroupName": name, "Arn": previous.get("Arn")}
    return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


def create_function_with_concurrency(create, self, request):
    """LocalStack's function ``create`` (called again while the function is pending), then, once it
    succeeded, the template's reserved concurrency."""
    event = create(self, request)
    reserved = request.desired_state.get("ReservedConcurrentExecutions")
    if _succeeded(event) and reserved is not None:
        request.aws_client_factory.lambda_.put_function_concurrency(
            FunctionName=event.resource_model["FunctionName"], ReservedConcurrentExecutions=int(reserved))
    return event


def update_function_with_concurrency(update, self, request):
    """LocalStack's function ``update``, then the template's reserved concurrency: put, or removed when dropped."""
    event = update(self, request)
    if not _succeeded(event):
        return event
    lambda_ = request.aws_client_factory.lambda_
    name = event.resource_model["FunctionName"]
    reserved = request.desired_state.get("ReservedConcurrentExecutions")
    if reserved is not None:
        lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(reserved))
    elif (request.previous_state or {}).get("ReservedConcurrentExecutions") is not None:
        lambda_.delete_function_concurrency(FunctionName=name)
    return event


@hooks.on_infra_start()
def apply_cloudformation_settings() -> None:
    """Wrap the log group and function handlers before any stack is created."""
    from localstack.services.lambda_.resource_providers.aws_lambda_function import LambdaFunctionProvider
    from localstack.services.logs.resource_providers.aws_logs_loggroup import LogsLogGroupProvider
    from localstack.utils.patch import Patch

    Patch.function(LogsLogGroupProvider.create, create_log_group_with_retention).apply()
    Patch.function(LogsLogGroupProvider.update, update_log_group_retention).apply()
    Patch.function(LambdaFunctionProvider.create, create_function_with_concurrency).apply()
    Patch.function(LambdaFunctionProvider.update, update_function_with_concurrency).apply()
