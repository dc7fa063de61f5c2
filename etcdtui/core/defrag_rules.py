"""Which members need defragmenting, in which order, and may the next one go now (pure, stdlib only).

Rules use etcd-defrag's syntax (github.com/ahrtr/etcd-defrag, `--defrag-rule`): a boolean expression over
`dbSize`, `dbSizeInUse` and `dbQuota` (bytes) with Go's integer arithmetic (`+ - * / %`), comparisons
(`== != < > <= >=`), logic (`&& || !`) and parentheses. etcdtui's default asks for real fragmentation on a
database worth the pause: at least 50 % of the file unused and at least 100 MB.

Order: followers first, the leader last (the leader's pause costs an election if it is not moved first;
the procedure moves leadership away anyway, so "last" keeps the one move at the end).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from etcdtui.core.quorum import quorum
from etcdtui.core.quota import DEFAULT_QUOTA_BYTES, quota_backend_bytes

DEFAULT_RULE = "(dbSize - dbSizeInUse) * 100 >= dbSize * 50 && dbSize >= 100 * 1000 * 1000"
DEFAULT_QUOTA = DEFAULT_QUOTA_BYTES  # etcd's default --quota-backend-bytes
VARIABLES = ("dbSize", "dbSizeInUse", "dbQuota")
# etcd's own way out of NOSPACE (maintenance guide): disarming alone re-raises it at the next write.
NOSPACE_WAY_OUT = ("way out: compact to the current revision, defragment every member, then `etcdctl alarm disarm` "
                   "(`etcdtui defrag` or d in the ring view does all three, with the same gates)")


class RuleError(ValueError):
    """One line: the rule does not parse or does not evaluate to a boolean."""


# -- the rule language ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|[-+*/%()<>!]))")
# Go's binary precedence: 5 (* / %), 4 (+ -), 3 (comparisons), 2 (&&), 1 (||).
_BINARY: dict[str, int] = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
                           "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}

Value = int | bool
Node = Callable[[Mapping[str, int]], Value]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise RuleError(f"unexpected {text[pos:pos + 10].strip()!r} at position {pos + 1}")
        out.append(m.group(m.lastindex or 0))
        pos = m.end()
    return out


def _int(v: Value, op: str) -> int:
    if isinstance(v, bool):
        raise RuleError(f"{op!r} needs numbers, got a boolean")
    return v


def _bool(v: Value, op: str) -> bool:
    if not isinstance(v, bool):
        raise RuleError(f"{op!r} needs booleans, got a number")
    return v


def _go_div(a: int, b: int) -> int:
    if b == 0:
        raise RuleError("division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q  # Go truncates toward zero


def _apply(op: str, a: Value, b: Value) -> Value:
    if op in ("&&", "||"):
        p, q = _bool(a, op), _bool(b, op)
        return (p and q) if op == "&&" else (p or q)
    if op in ("==", "!="):
        if isinstance(a, bool) != isinstance(b, bool):
            raise RuleError(f"{op!r} compares a number with a boolean")
        return (a == b) if op == "==" else (a != b)
    x, y = _int(a, op), _int(b, op)
    table: dict[str, Callable[[int, int], Value]] = {
        "<": lambda p, q: p < q, "<=": lambda p, q: p <= q, ">": lambda p, q: p > q, ">=": lambda p, q: p >= q,
        "+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q, "/": _go_div,
        "%": lambda p, q: p - _go_div(p, q) * q,
    }
    return table[op](x, y)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise RuleError("the rule ends too early")
        self.i += 1
        return tok

    def expr(self, min_prec: int = 1) -> Node:
        left = self.unary()
        while (op := self.peek()) in _BINARY and _BINARY[op] >= min_prec:
            self.take()
            right = self.expr(_BINARY[op] + 1)
            left = self._binary(op, left, right)
        return left

    @staticmethod
    def _binary(op: str, left: Node, right: Node) -> Node:
        return lambda env: _apply(op, left(env), right(env))

    def unary(self) -> Node:
        tok = self.take()
        if tok == "!":
            inner = self.unary()
            return lambda env: not _bool(inner(env), "!")
        if tok == "-":
            inner = self.unary()
            return lambda env: -_int(inner(env), "-")
        if tok == "(":
            inner = self.expr()
            if self.peek() != ")":
                raise RuleError("missing ')'")
            self.take()
            return inner
        if tok.isdigit():
            value = int(tok)
            return lambda env: value
        if tok in ("true", "false"):
            flag = tok == "true"
            return lambda env: flag
        if tok in VARIABLES:
            return lambda env: env[tok]
        if tok[0].isalpha() or tok[0] == "_":
            raise RuleError(f"unknown variable {tok!r} (known: {', '.join(VARIABLES)})")
        raise RuleError(f"unexpected {tok!r}")


@dataclass(frozen=True)
class Rule:
    text: str
    _node: Node

    def evaluate(self, db_size: int, db_size_in_use: int, db_quota: int) -> bool:
        value = self._node({"dbSize": db_size, "dbSizeInUse": db_size_in_use, "dbQuota": db_quota})
        if not isinstance(value, bool):
            raise RuleError(f"the rule {self.text!r} gives a number, not true/false")
        return value


def parse_rule(text: str) -> Rule:
    """Parse (and type-check on sample values) a rule; raises RuleError with one line."""
    if not text.strip():
        raise RuleError("the rule is empty")
    parser = _Parser(_tokens(text))
    node = parser.expr()
    if parser.peek() is not None:
        raise RuleError(f"unexpected {parser.peek()!r} after the end of the expression")
    rule = Rule(text.strip(), node)
    rule.evaluate(2, 1, 4)  # a number where a boolean belongs fails now, not mid-procedure
    return rule


# -- fragmentation and quota ----------------------------------------------------------------------------
def fragmentation(db_size: int | None, in_use: int | None) -> float | None:
    """1 − in-use/size: the share of the file that defragmenting gives back (None when unknown)."""
    if not db_size or in_use is None:
        return None
    return max(0.0, 1.0 - in_use / db_size)


def quota_use(db_size: int | None, quota: int | None) -> float | None:
    if db_size is None or not quota:
        return None
    return db_size / quota


def quota_from_command(command: Sequence[str]) -> int:
    """The member's quota from its command line (core.quota reads it), else etcd's default."""
    quota = quota_backend_bytes(command)
    return DEFAULT_QUOTA if quota is None else quota


# -- the plan -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberDb:
    name: str
    member_id: str
    db_size: int | None
    db_size_in_use: int | None
    quota: int
    is_leader: bool
    healthy: bool | None
    is_learner: bool = False
    raft_index_lag: int | None = None


@dataclass(frozen=True)
class PlanEntry:
    name: str
    member_id: str
    selected: bool
    reason: str  # why (not) — the rule's verdict with the figures
    was_leader: bool
    db_size: int | None
    db_size_in_use: int | None


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def plan(members: Sequence[MemberDb], rule: Rule, *, force: bool = False) -> list[PlanEntry]:
    """Every member with the rule's verdict, followers (by name) first and the leader last."""
    entries = []
    for m in sorted(members, key=lambda m: (m.is_leader, m.name)):
        frag = fragmentation(m.db_size, m.db_size_in_use)
        figures = f"{_mb(m.db_size)}, in use {_mb(m.db_size_in_use)}" + (
            f", {frag:.0%} fragmented" if frag is not None else "")
        if m.db_size is None or m.db_size_in_use is None:
            entries.append(PlanEntry(m.name, m.member_id, force, f"no endpoint status ({figures})", m.is_leader,
                                     m.db_size, m.db_size_in_use))
            continue
        verdict = rule.evaluate(m.db_size, m.db_size_in_use, m.quota)
        reason = f"rule {'true' if verdict else 'false'}: {figures}"
        entries.append(PlanEntry(m.name, m.member_id, verdict or force, reason, m.is_leader, m.db_size,
                                 m.db_size_in_use))
    return entries


# -- the gate before each member ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberGate:
    passed: bool
    detail: str


def pause_gate(members: Sequence[MemberDb], target: str, alarms: Sequence[str]) -> MemberGate:
    """Before pausing `target`: no CORRUPT alarm, every voting member healthy, quorum kept without it."""
    if "CORRUPT" in alarms:
        return MemberGate(False, "refused: a CORRUPT alarm is active; defragmenting moves data of a member that "
                                 "may be the bad one (replace the corrupted member first)")
    voting = [m for m in members if not m.is_learner]
    if not any(m.name == target for m in members):
        return MemberGate(False, f"refused: {target} is no longer a member")
    sick = [m.name for m in voting if not m.healthy]
    if sick:
        return MemberGate(False, f"refused: the ring is not healthy ({', '.join(sick)} not healthy): wait until "
                                 "every member is healthy before pausing another")
    others = sum(1 for m in voting if m.name != target and m.healthy)
    need = quorum(len(voting))
    target_votes = any(m.name == target and not m.is_learner for m in members)
    if target_votes and others < need:
        return MemberGate(False, f"refused: with {target} paused {others} of {len(voting)} voting members remain, "
                                 f"quorum needs {need}")
    return MemberGate(True, f"ring healthy ({len(voting)} voting members); with {target} paused {others} remain, "
                            f"quorum {need}" + ("; NOSPACE is active (expected: defragmenting frees space)"
                                               if "NOSPACE" in alarms else ""))


def healthiest_follower(members: Sequence[MemberDb], leaving: str, prefer: Sequence[str] = ()) -> MemberDb | None:
    """Where leadership goes: a healthy voting member other than `leaving`, preferring `prefer` (already
    done), then the smallest raft lag, then the name (stable)."""
    candidates = [m for m in members if m.name != leaving and m.healthy and not m.is_learner]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.name not in prefer, m.raft_index_lag if m.raft_index_lag is not None
                                          else 1 << 62, m.name))
