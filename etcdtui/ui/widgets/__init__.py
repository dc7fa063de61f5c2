"""Widgets of the ring view, one module per feature."""
