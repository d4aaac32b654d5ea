"""The rule catalogue: stackgrade's own production-readiness rules and the engine-finding mapping."""
