"""Commands that pick their face: `etcdtui replace` runs the checklist in the app (ui) in a terminal, or headless
with `--confirm CONTEXT` (headless). The one layer allowed to import both faces; nothing imports it but cli."""
