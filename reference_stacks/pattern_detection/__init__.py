"""Stock pattern detection (seed 004): five nested stacks for data, compute, API, orchestration and monitoring."""
