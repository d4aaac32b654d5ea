"""Order processing on ECS Fargate: API and worker services behind an ALB, SQS + DLQ, queue-depth scaling."""
