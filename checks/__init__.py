"""The machinery: synthesis, one adapter per engine, the finding model, the gate and the CLI."""
