"""The engine: turns adapter events into ring state; shared by the UI and the headless commands."""
