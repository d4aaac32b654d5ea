"""Multi-region DR payments (seed 002): DynamoDB global table, validator, processor and failover functions."""
