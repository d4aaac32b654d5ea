"""Helpers several rules of one concern share (rule modules stay small and pure)."""
