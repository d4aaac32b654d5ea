"""Serverless webhook pipeline: API Gateway -> receiver -> SQS -> processor -> SQS -> notifier."""
