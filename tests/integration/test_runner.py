"""The command runner against real programs: PTY prompts, pipes, signals, big and broken output.

The child programs are small Python scripts run with this interpreter; they behave like the programs the
runner drives (kubeone's TTY check and prompt, a process that ignores SIGTERM and has a grandchild).
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time
from pathlib import Path

import pytest

from etcdtui.cluster.runner import (
    KUBEONE_PROMPT,
    CommandNotFoundError,
    CommandSpec,
    Finished,
    OutputBatch,
    PromptEvent,
    RunnerError,
    StreamLimits,
    run_command,
    start_command,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PY = sys.executable

# Same checks and prompt as kubeone's pkg/confirmation/confirm.go.
KUBEONE_LIKE = r"""
import os, sys
if not (os.isatty(0) and os.isatty(1)):
    print("Error: runtime: terminal detecting\nnot running in the terminal", file=sys.stderr)
    sys.exit(10)
print("The following actions will be taken:")
print('\t+ force upgrade control plane node "lab-cp-1"')
sys.stdout.write("Do you want to proceed (yes/no): ")
sys.stdout.flush()
line = sys.stdin.readline()
print()
print("answer=" + line.strip() + " term=" + os.environ.get("TERM", "") + " tty=" + os.ttyname(0))
print("own-session=" + str(os.getsid(0) == os.getpid()))
sys.exit(0 if line.strip() == "yes" else 3)
"""


async def collect(cmd, answer: str | None = None) -> tuple[list[str], list[PromptEvent], list[OutputBatch]]:
    lines: list[str] = []
    prompts: list[PromptEvent] = []
    batches: list[OutputBatch] = []
    async for ev in cmd.events():
        if isinstance(ev, OutputBatch):
            batches.append(ev)
            lines.extend(ev.lines)
        elif isinstance(ev, PromptEvent):
            prompts.append(ev)
            if answer is not None:
                await cmd.answer(answer)
        else:
            assert isinstance(ev, Finished)
    return lines, prompts, batches


async def test_pty_prompt_is_detected_and_answered(tmp_path: Path) -> None:
    transcript = tmp_path / "transcript.log"
    cmd = await start_command(CommandSpec((PY, "-c", KUBEONE_LIKE), pty=True), transcript_path=transcript)
    lines, prompts, batches = await collect(cmd, answer="yes")
    result = await cmd.wait()

    assert [p.text for p in prompts] == ["Do you want to proceed (yes/no): "]
    # The prompt was visible as the provisional line before it was answered.
    assert any(b.partial == "Do you want to proceed (yes/no): " for b in batches)
    assert '\t+ force upgrade control plane node "lab-cp-1"' in lines
    assert "Do you want to proceed (yes/no): yes" in lines  # the PTY echoes the answer; no \r left
    answer_line = next(line for line in lines if line.startswith("answer="))
    assert answer_line.startswith("answer=yes term=dumb tty=/dev/pts/")
    assert "own-session=True" in lines
    assert result.exit_code == 0 and result.signal is None and result.ok
    assert 0 < result.duration_s < 10
    assert not any("\r" in line for line in lines)

    kinds = [e.kind for e in cmd.transcript.entries]
    assert kinds[0] == "event" and PY in cmd.transcript.entries[0].text
    assert "prompt" in kinds and "answer" in kinds
    assert stat.S_IMODE(transcript.stat().st_mode) == 0o600
    text = transcript.read_text()
    assert "answer: yes" in text and "exited with 0" in text


async def test_answer_no_is_passed_through() -> None:
    cmd = await start_command(CommandSpec((PY, "-c", KUBEONE_LIKE), pty=True))
    lines, prompts, _ = await collect(cmd, answer="no")
    result = await cmd.wait()
    assert len(prompts) == 1
    assert any(line.startswith("answer=no ") for line in lines)
    assert result.exit_code == 3 and not result.ok


async def test_without_pty_the_program_refuses_like_kubeone() -> None:
    cmd = await start_command(CommandSpec((PY, "-c", KUBEONE_LIKE), pty=False, stdin_pipe=True))
    _, prompts, batches = await collect(cmd, answer="yes")
    result = await cmd.wait()
    assert prompts == []
    stderr = [line for b in batches if b.stream == "stderr" for line in b.lines]
    assert stderr == ["Error: runtime: terminal detecting", "not running in the terminal"]
    assert result.exit_code == 10


async def test_pipe_mode_stdin_is_devnull_not_the_apps_terminal() -> None:
    script = "import os,sys; print(os.isatty(0), repr(sys.stdin.read()), os.getsid(0) == os.getpid())"
    cmd = await start_command(CommandSpec((PY, "-c", script)))
    lines, _, _ = await collect(cmd)
    assert lines == ["False '' True"]
    with pytest.raises(RunnerError, match="no input"):
        await cmd.answer("yes")


async def test_unterminated_progress_is_shown_but_is_not_a_prompt() -> None:
    script = (
        "import sys,time\n"
        "sys.stdout.write('downloading 10%\\rdownloading 90%'); sys.stdout.flush(); time.sleep(0.5)\n"
        "print('\\rdownloading 100%')\n"
        "print('\\x1b[1;32mgreen\\x1b[0m done')\n"
    )
    cmd = await start_command(CommandSpec((PY, "-c", script), pty=True))
    lines, prompts, batches = await collect(cmd)
    assert prompts == []
    assert any(b.partial == "downloading 90%" for b in batches)
    assert lines == ["downloading 100%", "green done"]


async def test_custom_prompt_pattern_in_pipe_mode() -> None:
    script = (
        "import sys; sys.stderr.write('Type the node name to confirm: '); sys.stderr.flush(); print(input())"
    )
    spec = CommandSpec(
        (PY, "-c", script), stdin_pipe=True, prompt_patterns=(r"to confirm: $", KUBEONE_PROMPT)
    )
    cmd = await start_command(spec)
    lines, prompts, _ = await collect(cmd, answer="lab-cp-2")
    assert [(p.stream, p.text) for p in prompts] == [("stderr", "Type the node name to confirm: ")]
    assert "lab-cp-2" in lines
    assert (await cmd.wait()).exit_code == 0


def _alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (PID 1 here may reap orphans late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_cancel_kills_a_process_that_ignores_sigterm_and_its_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    grandchild = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    script = (
        "import signal,subprocess,sys,time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"p = subprocess.Popen([sys.executable, '-c', {grandchild!r}])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    cmd = await start_command(CommandSpec((PY, "-c", script), kill_grace=0.5))
    events = cmd.events()
    async for ev in events:
        if isinstance(ev, OutputBatch) and "ready" in ev.lines:
            break
    grandchild_pid = int(pidfile.read_text())
    assert _alive(grandchild_pid)

    started = time.monotonic()
    result = await cmd.cancel()
    elapsed = time.monotonic() - started

    assert result.cancelled and result.signal == signal.SIGKILL and result.exit_code is None
    assert 0.4 < elapsed < 5
    for _ in range(50):  # the orphaned grandchild is reaped by PID 1, not by us
        if not _alive(grandchild_pid):
            break
        await asyncio.sleep(0.05)
    assert not _alive(grandchild_pid)
    assert not _alive(cmd.pid)
    assert any("SIGKILL" in e.text for e in cmd.transcript.entries)
    rest = [ev async for ev in events]
    assert isinstance(rest[-1], Finished) and rest[-1].result == result


async def test_cancel_stops_a_well_behaved_program_with_sigterm() -> None:
    script = "import time; print('ready', flush=True); time.sleep(60)"
    cmd = await start_command(CommandSpec((PY, "-c", script), pty=True, kill_grace=10))
    async for ev in cmd.events():
        if isinstance(ev, OutputBatch) and "ready" in ev.lines:
            break
    started = time.monotonic()
    result = await cmd.cancel()
    assert time.monotonic() - started < 3
    assert result.signal == signal.SIGTERM and result.cancelled
    assert "cancelled, killed by SIGTERM" in result.describe()


async def test_leaving_the_context_cancels_a_running_command() -> None:
    cmd = await start_command(CommandSpec((PY, "-c", "import time; time.sleep(60)"), kill_grace=1))
    async with cmd:
        pass
    assert cmd.done and (await cmd.wait()).signal == signal.SIGTERM


async def test_50_mb_of_fast_output_arrives_complete_and_in_bounded_batches() -> None:
    # 50 MiB in 100-byte lines, written as fast as Python can.
    script = (
        "import sys\n"
        "line = b'x' * 92 + b' %06d\\n'\n"
        "out = sys.stdout.buffer\n"
        "for block in range(512):\n"
        "    out.write(b''.join(line % (block * 1024 + i) for i in range(1024)))\n"
    )
    limits = StreamLimits()  # the defaults: reading pauses while 4 MiB wait to be batched
    cmd = await start_command(CommandSpec((PY, "-c", script)), limits=limits)
    count = 0
    nbytes = 0
    last_line = ""
    batches = 0
    started = time.monotonic()
    async for ev in cmd.events():
        if isinstance(ev, OutputBatch) and ev.lines:
            batches += 1
            count += len(ev.lines)
            nbytes += ev.raw_bytes
            last_line = ev.lines[-1]
    elapsed = time.monotonic() - started
    result = await cmd.wait()
    assert result.exit_code == 0
    assert result.dropped_bytes == 0
    assert count == 512 * 1024 and nbytes == 512 * 1024 * 100
    assert last_line.endswith(" 524287")
    # Batching: far fewer batches than reads, and never more often than the interval allows.
    assert batches <= elapsed / limits.batch_interval + 2
    assert len(cmd.transcript.entries) == limits.transcript_lines
    assert cmd.max_buffered_bytes <= limits.max_pending_bytes + 256 * 1024


async def test_an_unwritable_transcript_file_does_not_stop_the_command(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "transcript.log"
    cmd = await start_command(CommandSpec((PY, "-c", "print('hello')")), transcript_path=path)
    lines, _, _ = await collect(cmd)
    assert lines == ["hello"] and (await cmd.wait()).ok
    assert any("no longer written" in e.text for e in cmd.transcript.entries)
    assert not path.exists()


async def test_a_slow_consumer_loses_old_output_and_the_loss_is_counted() -> None:
    script = "import sys\nfor i in range(20000): print('line %05d' % i)\nprint('END')"
    limits = StreamLimits(max_queued_bytes=16 * 1024)
    cmd = await start_command(CommandSpec((PY, "-c", script)), limits=limits)
    await cmd.wait()  # nobody reads while it runs
    lines: list[str] = []
    dropped_reported = 0
    async for ev in cmd.events():
        if isinstance(ev, OutputBatch):
            lines.extend(ev.lines)
            dropped_reported += ev.dropped_bytes
    result = await cmd.wait()
    total = 20000 * 11 + 4
    assert result.dropped_bytes > 0
    assert dropped_reported == result.dropped_bytes
    missing = total - sum(len(line) + 1 for line in lines)
    # Counted in raw bytes per dropped batch: a line cut across batches may be counted twice, never lost silently.
    assert missing <= result.dropped_bytes <= missing + 0.01 * total
    assert lines[-1] == "END"  # the newest output is kept
    numbers = [int(line.split()[1]) for line in lines[:-1]]
    assert numbers == sorted(numbers) and numbers[-1] == 19999


async def test_fast_output_is_throttled_not_lost_when_the_buffer_is_full() -> None:
    # A raw buffer far smaller than the output: reading pauses (the child blocks) instead of growing or dropping.
    script = "import sys\nfor i in range(200000): print('line %06d' % i)\nprint('END')"
    limits = StreamLimits(max_pending_bytes=64 * 1024, batch_interval=0.02)
    cmd = await start_command(CommandSpec((PY, "-c", script)), limits=limits)
    lines, _, _ = await collect(cmd)
    result = await cmd.wait()
    assert result.dropped_bytes == 0
    assert len(lines) == 200001 and lines[-2] == "line 199999" and lines[-1] == "END"
    assert limits.max_pending_bytes <= cmd.max_buffered_bytes <= limits.max_pending_bytes + 256 * 1024


async def test_non_utf8_output_is_replaced_not_fatal() -> None:
    script = (
        "import sys,time\n"
        "o = sys.stdout.buffer\n"
        "o.write(b'caf\\xe9 latin-1\\n\\xff\\xfe\\n'); o.flush()\n"
        "o.write(b'split \\xc3'); o.flush(); time.sleep(0.2)\n"  # an UTF-8 sequence cut across two reads
        "o.write(b'\\xa9 ok\\n'); o.flush()\n"
        "o.write(b'no newline at end \\xe2\\x82')\n"
    )
    cmd = await start_command(CommandSpec((PY, "-c", script)))
    lines, _, _ = await collect(cmd)
    assert lines == ["caf\ufffd latin-1", "\ufffd\ufffd", "split \u00e9 ok", "no newline at end \ufffd"]


@pytest.mark.parametrize(("code", "exit_code", "sig"), [("0", 0, None), ("7", 7, None)])
async def test_exit_codes(code: str, exit_code: int, sig: int | None) -> None:
    result = await run_command(CommandSpec((PY, "-c", f"import sys; sys.exit({code})")))
    assert (result.exit_code, result.signal) == (exit_code, sig)
    assert result.ok is (exit_code == 0)


async def test_killed_by_a_signal_is_reported_as_such() -> None:
    result = await run_command(
        CommandSpec((PY, "-c", "import os,signal; os.kill(os.getpid(), signal.SIGSEGV)"))
    )
    assert result.exit_code is None and result.signal == signal.SIGSEGV
    assert "killed by SIGSEGV" in result.describe()


async def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFoundError, match="^kubeone-does-not-exist: command not found on PATH$"):
        await start_command(CommandSpec(("kubeone-does-not-exist", "version")))
    not_exec = tmp_path / "kubeone"
    not_exec.write_text("#!/bin/sh\n")
    with pytest.raises(CommandNotFoundError, match="not an executable file"):
        await start_command(CommandSpec((str(not_exec), "version")))
    relative = tmp_path / "bin" / "tool"
    relative.parent.mkdir()
    relative.write_text("#!/bin/sh\necho tool ran\n")
    relative.chmod(0o755)
    result = await run_command(CommandSpec(("./bin/tool",), cwd=str(tmp_path)))  # relative to the child's cwd
    assert result.exit_code == 0
    with pytest.raises(RunnerError, match="never a shell string"):
        await start_command(CommandSpec("kubeone version"))  # type: ignore[arg-type]


async def test_environment_is_explicit() -> None:
    script = "import os; print(os.environ.get('TERM'), os.environ.get('NO_COLOR'), os.environ.get('ONLY'))"
    spec = CommandSpec((PY, "-c", script), env={"PATH": os.environ["PATH"], "ONLY": "me"}, no_color=True)
    lines, _, _ = await collect(await start_command(spec))
    assert lines == ["dumb 1 me"]


async def test_run_command_cancels_when_the_prompt_is_refused() -> None:
    seen: list[str] = []

    async def refuse(ev: PromptEvent) -> str | None:
        seen.append(ev.text)
        return None

    spec = CommandSpec((PY, "-c", KUBEONE_LIKE), pty=True, kill_grace=2)
    result = await run_command(spec, on_prompt=refuse)
    assert seen == ["Do you want to proceed (yes/no): "]
    assert result.cancelled and not result.ok
