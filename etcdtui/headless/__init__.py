"""Headless commands for scripts and alerting (scan-logs, check)."""
