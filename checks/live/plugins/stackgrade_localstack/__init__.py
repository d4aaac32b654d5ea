"""stackgrade's LocalStack plugins: what LocalStack 4.14 lacks on a host without Docker or Java.

- ``dynamodb``: DynamoDB and DynamoDB Streams served by moto (``PROVIDER_OVERRIDE_DYNAMODB=moto``,
  ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``), and a template's PITR applied by CloudFormation.
- ``executor``: a Lambda runtime executor running Python handlers as local processes
  (``LAMBDA_RUNTIME_EXECUTOR=stackgrade``); ``bootstrap`` is the handler side (standard library only).
- ``cloudformation``: the CloudFormation log group and function handlers apply ``RetentionInDays`` and
  ``ReservedConcurrentExecutions``, which LocalStack 4.14 ignores.
- ``events``: an EventBridge rule whose Step Functions target takes part of the event (InputPath,
  InputTransformer) starts its execution, which LocalStack 4.14 fails to name.
- ``supervision``: ties a LocalStack started by stackgrade to its starter (identity, shutdown when orphaned).

Everything here runs inside the LocalStack process or its handler processes (Python 3.13), never in
stackgrade's own interpreter; tests/live/ proves it through a running LocalStack.
"""
