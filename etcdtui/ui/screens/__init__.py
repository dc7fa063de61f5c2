"""Screens of the app: the ring view and its help."""
