"""An etcd command line as Go's flag package reads it (`--name=value`, `--name value`, single dash; a boolean flag never takes the next word), and the same line with flags set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from etcdtui.core.bool_flags import ALL_BOOL_FLAGS

# --- command line parsing -----------------------------------------------------------------------

# Boolean flags of every etcd line (core/bool_flags.py): Go's flag package never lets them consume the next word.
BOOL_FLAGS = ALL_BOOL_FLAGS


@dataclass(frozen=True)
class ParsedCommand:
    """Flags by name (without dashes); the last occurrence wins, as in Go. `feature_gates` merges all occurrences."""

    program: str | None
    flags: Mapping[str, str]
    repeated: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()  # words etcd would reject ("'x' is not a valid flag")
    feature_gates: Mapping[str, str] = field(default_factory=dict)
    missing_value: tuple[str, ...] = ()  # value flags followed by another `-flag` (never read as their value)

    def get(self, name: str) -> str | None:
        return self.flags.get(name)

    def has(self, name: str) -> bool:
        return name in self.flags


def parse_command(argv: Sequence[str]) -> ParsedCommand:
    """Parse `spec.containers[0].command + args` of an etcd container. Never raises."""
    words = list(argv)
    program: str | None = None
    if words and not words[0].startswith("-"):
        program = words.pop(0)
    flags: dict[str, str] = {}
    repeated: list[str] = []
    positional: list[str] = []
    gates: dict[str, str] = {}
    missing: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            positional.extend(words[i:])
            break
        if not word.startswith("-") or word in ("-", "---") or word.startswith("---"):
            positional.append(word)
            continue
        body = word.lstrip("-")
        if "=" in body:
            name, value = body.split("=", 1)
        elif body in BOOL_FLAGS:
            name, value = body, "true"
        elif i < len(words) and not looks_like_flag(words[i]):
            name, value = body, words[i]
            i += 1
        else:
            # Go would take even `--other=x` as the value; reading it so would hide `--other` from the audit
            name, value = body, ""
            missing.append(name)
        if name in flags:
            repeated.append(name)
        flags[name] = value
        if name == "feature-gates":
            gates.update(parse_feature_gates(value))
    return ParsedCommand(program, flags, tuple(repeated), tuple(positional), gates, tuple(missing))


def looks_like_flag(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not word[1:2].isdigit()


def parse_feature_gates(value: str) -> dict[str, str]:
    """`InitialCorruptCheck=true,CompactHashCheck=true` → {"InitialCorruptCheck": "true", ...}."""
    gates: dict[str, str] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, setting = part.partition("=")
        gates[name.strip()] = setting.strip()
    return gates


def parse_bool(value: str) -> bool | None:
    # Go's strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def apply_flags(command: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The command line with `extra` flags set (earlier values of the same flags dropped): the "after" view.

    Feature gates are merged, not replaced, so gates the command already had are kept.
    """
    names = {parse_flag_name(f) for f in extra}
    extra_gates: dict[str, str] = {}
    for flag in extra:
        if parse_flag_name(flag) == "feature-gates":
            extra_gates.update(parse_feature_gates(flag.split("=", 1)[1] if "=" in flag else ""))
    kept: list[str] = []
    gates: dict[str, str] = {}
    words = list(command)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name = parse_flag_name(word) if word.startswith("-") else None
        if name is None or name not in names:
            kept.append(word)
            continue
        value = word.split("=", 1)[1] if "=" in word else None
        if value is None and name not in BOOL_FLAGS and i < len(words) and not looks_like_flag(words[i]):
            value = words[i]
            i += 1
        if name == "feature-gates" and value is not None:
            gates.update(parse_feature_gates(value))
    result = kept + [f for f in extra if parse_flag_name(f) != "feature-gates"]
    if extra_gates:
        gates.update(extra_gates)
        result.append("--feature-gates=" + ",".join(f"{k}={v}" for k, v in gates.items()))
    return result


def parse_flag_name(word: str) -> str:
    return word.lstrip("-").split("=", 1)[0]
