"""Seed 003: e-commerce order pipeline (API -> handler -> SQS -> processor -> DynamoDB + SNS)."""
