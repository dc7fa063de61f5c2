"""Read the recorded etcdctl transcripts in tests/fixtures (real etcdctl 3.4.23 / 3.5.1 runs on loopback)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ETCD_LOGS = FIXTURES / "etcd-logs"
ETCD_13766 = FIXTURES / "etcd-13766"


@dataclass(frozen=True)
class Step:
    section: str  # the `==== …` heading, e.g. `state: after corruption detected`
    command: str  # the etcdctl subcommand line without `--endpoints=…`
    output: str  # stdout and stderr as recorded
    rc: int

    @property
    def has_json(self) -> bool:
        return any(
            line.startswith("[") or (line.startswith("{") and not line.startswith('{"level"'))
            for line in self.output.splitlines()
        )

    @property
    def json_line(self) -> str:
        """The `-w json` stdout line; etcdctl's own zap warnings (stderr) are JSON too but start with `{"level"`."""
        for line in self.output.splitlines():
            if line.startswith("[") or (line.startswith("{") and not line.startswith('{"level"')):
                return line
        raise AssertionError(f"no JSON output for {self.command!r} in {self.section!r}")


def read_transcript(path: Path) -> list[Step]:
    steps: list[Step] = []
    section, command, lines = "", None, []
    for line in path.read_text().splitlines():
        if line.startswith("==== "):
            section = line[5:].strip()
        elif line.startswith("$ "):
            command, lines = re.sub(r"--endpoints=\S+\s*", "", line[2:]).strip(), []
        elif command is not None and (m := re.fullmatch(r"\[rc=(\d+)\]", line.strip())):
            steps.append(Step(section, command, "\n".join(lines).strip(), int(m.group(1))))
            command = None
        elif command is not None:
            lines.append(line)
    return steps


def find(path: Path, section_contains: str, command_startswith: str) -> Step:
    for step in read_transcript(path):
        if section_contains in step.section and step.command.startswith(command_startswith):
            return step
    raise AssertionError(
        f"{path.name}: no {command_startswith!r} in a section containing {section_contains!r}"
    )
