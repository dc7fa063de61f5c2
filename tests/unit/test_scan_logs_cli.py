"""`etcdtui scan-logs` as a user runs it (`python -m etcdtui scan-logs` in a subprocess) on the real fixture
scenarios and on bad input: statuses, exit codes, the right lines, one-line errors, stdin."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from etcdtui.headless import scan_reading

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "tests" / "fixtures" / "etcd-logs"
ROLE = re.compile(r"^(?P<scenario>.+)-(?:leader|follower|fork|victim-boot|victim-restart-initialcheck|"
                  r"victim-restart-nocheck)\.log$")


def _scenarios() -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(LOGS.glob("*.log")):
        match = ROLE.match(path.name)
        assert match, f"unexpected fixture name {path.name}"
        groups[match["scenario"]].append(path)
    return dict(groups)


SCENARIOS = _scenarios()


def scan(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdtui", "scan-logs", *map(str, args)],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )


def scan_json(*args: str | Path, stdin: bytes | None = None) -> tuple[int, dict[str, Any]]:
    done = scan("--json", *args, stdin=stdin)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def _corruption_lines(path: Path) -> set[tuple[str, int]]:
    """Where a person reading the fixture sees corruption evidence (independent of the classifier)."""
    evidence = (
        '"msg":"found different hash values from remote peer"', '"msg":"checkInitialHashKV failed"',
        "found data inconsistency with peers", '"msg":"same compact revision then hashes must match"',
        "\"msg\":\"revision from follower must be less than or equal to leader's\"", "etcdserver: corrupt cluster",
        "alarm:CORRUPT", "ALARM CORRUPT",
    )
    found = set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if any(e in line for e in evidence) or ('"msg":"alarm raised"' in line and '"CORRUPT"' in line):
            found.add((str(path), number))
    return found


@pytest.mark.parametrize("scenario", sorted(SCENARIOS), ids=sorted(SCENARIOS))
def test_fixture_scenarios(scenario: str) -> None:
    files = SCENARIOS[scenario]
    rc, report = scan_json(*files)
    critical = {(f["file"], f["line"]) for f in report["findings"] if f["severity"] == "critical"}
    if "-healthy" in scenario:
        assert (rc, report["status"]) == (0, "OK")
        assert critical == set()
        assert not [f for f in report["findings"] if f["severity"] == "warning"]
        assert any(f["kind"] == "check.periodic_passed" or f["kind"] == "check.initial_passed" for f in report["findings"])
    else:
        assert (rc, report["status"]) == (2, "CRITICAL")
        expected = set().union(*(_corruption_lines(p) for p in files))
        assert expected and critical == expected
    assert report["summary"]["lines"] == sum(len(p.read_bytes().splitlines()) for p in files)


def test_findings_shape_and_member_names() -> None:
    files = SCENARIOS["3.5.1-corrupt-bbolt"]
    _, report = scan_json(*files)
    first = report["findings"][0]
    assert set(first) >= {"file", "line", "member", "ts", "severity", "kind", "msg", "fields"}
    assert first["severity"] == "critical" and first["kind"] == "corruption.initial_hash_mismatch"
    assert first["member"] == "3.5.1-corrupt-bbolt-victim-restart-initialcheck"  # file stem by default
    assert first["msg"] == "found different hash values from remote peer"
    assert first["ts"] == "2026-11-24T09:26:30.188000Z"
    assert report["summary"]["suspect_members"] == {
        "3.5.1-corrupt-bbolt-victim-restart-initialcheck":
            "its own initial check found its data differs from its peers (member ID a9aab02626d71373)"}
    severities = [f["severity"] for f in report["findings"]]
    order = {"critical": 0, "warning": 1, "info": 2, "ok": 3}
    assert severities == sorted(severities, key=order.__getitem__)


def test_human_report_for_operators() -> None:
    files = SCENARIOS["3.5.1-corrupt-fork"]
    done = scan(*files)
    assert done.returncode == 2
    out = done.stdout
    assert out.startswith("CRITICAL: corruption evidence")
    assert "3.5.1-corrupt-fork-victim-restart-initialcheck.log:44" in out
    assert "why: " in out and "replace" in out
    assert "Suspect member: 3.5.1-corrupt-fork-victim-restart-initialcheck" in out
    no_suspect = scan(*SCENARIOS["3.5.1-corrupt-bbolt-nosnapshot"]).stdout
    assert "Suspect member" not in no_suspect and "endpoint hashkv" in no_suspect
    healthy = scan(*SCENARIOS["3.5.1-healthy"])
    assert healthy.returncode == 0 and healthy.stdout.startswith("OK")
    assert "Checks that compared peers and passed" in healthy.stdout


def test_vacuous_initial_pass_alone_is_a_warning(tmp_path: Path) -> None:
    # The first 16 lines of a real restart: empty member list (no snapshot), then "passed".
    lines = (LOGS / "3.5.1-corrupt-bbolt-nosnapshot-victim-restart-initialcheck.log").read_bytes().splitlines()[:16]
    assert b"initial corruption checking passed" in lines[-1]
    log = tmp_path / "m3.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    rc, report = scan_json(log)
    assert (rc, report["status"]) == (1, "WARNING")
    assert [(f["kind"], f["line"], f["member"]) for f in report["findings"] if f["severity"] == "warning"] == [
        ("check.initial_vacuous", 16, "m3")]


def test_periodic_pass_with_zero_peers_is_a_warning(tmp_path: Path) -> None:
    log = tmp_path / "leader.log"
    log.write_text('{"level":"info","ts":"2026-11-24T09:59:34.674Z","caller":"etcdserver/corrupt.go:244",'
                   '"msg":"finished peer corruption check","number-of-peers-checked":0}\n')
    rc, report = scan_json(log)
    assert (rc, report["findings"][0]["kind"], report["findings"][0]["line"]) == (1, "check.periodic_vacuous", 1)


def test_passive_compaction_check_across_files(tmp_path: Path) -> None:
    def compaction(value: int) -> str:
        return ('{"level":"info","ts":"2026-11-24T09:30:00.123456Z","caller":"mvcc/kvstore_compaction.go:71",'
                f'"msg":"finished scheduled compaction","compact-revision":500,"took":"3ms","hash":{value}}}\n')

    for name, value in (("etcd-a", 11), ("etcd-b", 11), ("etcd-c", 99)):
        (tmp_path / f"{name}.log").write_text(compaction(value))
    rc, report = scan_json(*sorted(tmp_path.glob("*.log")))
    assert rc == 2
    (found,) = report["findings"]
    assert (found["kind"], found["member"], found["line"]) == ("corruption.cross_member_hash_mismatch", "etcd-c", 1)
    assert found["file"].endswith("etcd-c.log")
    assert report["summary"]["suspect_members"] == {"etcd-c": "its compaction hash differs from the majority"}


def test_stdin_with_member_and_kubectl_prefix() -> None:
    lines = (LOGS / "3.5.1-corrupt-bbolt-leader.log").read_bytes().splitlines()
    prefixed = b"".join(b"2026-11-24T09:26:40.000000001Z " + line + b"\n" for line in lines)
    rc, report = scan_json("--member", "etcd-cp-1", "-", stdin=prefixed)
    assert (rc, report["status"]) == (2, "CRITICAL")
    assert {f["member"] for f in report["findings"]} == {"etcd-cp-1"}
    assert {f["file"] for f in report["findings"]} == {"stdin"}
    assert report["summary"]["unparsed_lines"] == 0


def test_non_utf8_and_truncated_json_inside_a_healthy_log(tmp_path: Path) -> None:
    data = (LOGS / "3.5.1-healthy-leader.log").read_bytes()
    log = tmp_path / "m1.log"
    log.write_bytes(b"\xff\xfe\x00 binary junk \x9c\n" + data + b'{"level":"warn","ts":"2026-11-24T09:2')
    rc, report = scan_json(log)
    assert (rc, report["status"]) == (0, "OK")
    assert report["summary"]["unparsed_lines"] == 2
    assert report["summary"]["lines"] == len(data.splitlines()) + 2


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "no etcd log line"), (bytes(range(256)) * 64, "no etcd log line"), (b"hello\nworld\n", "no etcd log line")],
    ids=["empty", "garbage", "not-etcd"],
)
def test_files_without_etcd_lines_are_unknown(tmp_path: Path, content: bytes, message: str) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(content)
    done = scan(log)
    assert done.returncode == 3
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_corruption_evidence_wins_over_an_unreadable_companion(tmp_path: Path) -> None:
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\x01")
    assert scan(junk, *SCENARIOS["3.5.1-corrupt-fork"]).returncode == 2
    assert scan(junk, *SCENARIOS["3.5.1-healthy"]).returncode == 3


@pytest.mark.parametrize(
    "args",
    [["/nonexistent/etcd.log"], ["{dir}"], [], ["--bogus", "x.log"], ["-", "-"]],
    ids=["missing", "directory", "no-files", "bad-flag", "stdin-twice"],
)
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, args: list[str]) -> None:
    done = scan(*[a.format(dir=tmp_path) for a in args])
    assert done.returncode == 3, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "error" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_help_documents_exit_codes() -> None:
    done = scan("--help")
    assert done.returncode == 0
    for text in ("0  OK", "1  WARNING", "2  CRITICAL", "3  UNKNOWN", "--json", "--member", "--all"):
        assert text in done.stdout


def test_read_blocks_cuts_over_long_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process: the reader must not hold a newline-free stream in memory.
    monkeypatch.setattr(scan_reading, "CHUNK", 1000)
    monkeypatch.setattr(scan_reading, "MAX_LINE", 300)
    data = b"a" * 5000 + b"\nshort line\n" + b"b" * 250 + b"\nlast"
    blocks = list(scan_reading.read_blocks(io.BytesIO(data)))
    lines = b"\n".join(b for b, _, _ in blocks if b is not None).split(b"\n")
    assert lines == [b"a" * 300, b"short line", b"b" * 250, b"last"]
    assert sum(cut for _, _, cut in blocks) == 1
    assert sum(n for _, n, _ in blocks) == len(data)  # every byte read is counted once
