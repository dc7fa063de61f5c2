"""Test helper: run the replace procedure headless in its own process (so a test can SIGKILL it mid-step).

    python tests/integration/replace_driver.py KUBECONFIG NODE STATE_DIR [--backup skip|snapshot]

Answers like an operator who types the node name, accepts a plan that passed the checks, and accepts the
offers (member remove, alarm disarm). Prints `STEP <n> <status>` lines (flushed) as the checklist changes,
and `OUTCOME <outcome>` at the end; exit 0 only when the procedure is done.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from etcdtui.core.checklist import StepId
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.context_settings import from_kubeconfig
from etcdtui.engine.replace import Outcome, Question, ReplaceProcedure, ReplaceSettings


class AutoOperator:
    def __init__(self, node: str, backup: str) -> None:
        self.node = node
        self.backup = backup
        self.proc: ReplaceProcedure | None = None
        self.seen: dict[int, str] = {}

    async def ask(self, question: Question) -> str | None:
        print(f"ASK {question.kind} {int(question.step)} context={question.context}", flush=True)
        if question.kind == "destructive":
            return self.node
        if question.kind == "backup":
            return "snapshot" if self.backup == "snapshot" else "skip: test lab, no data worth keeping"
        return "yes"

    def changed(self, step: StepId | None) -> None:
        if self.proc is None or step is None:
            return
        status = self.proc.checklist.step(step).status.value
        if self.seen.get(int(step)) != status:
            self.seen[int(step)] = status
            print(f"STEP {int(step)} {status}", flush=True)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kubeconfig")
    parser.add_argument("node")
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--backup", default="skip")
    args = parser.parse_args()
    operator = AutoOperator(args.node, args.backup)
    async with connected_engine(kubeconfig=args.kubeconfig, poll_interval=2.0) as engine:
        lab = from_kubeconfig(args.kubeconfig)
        settings = ReplaceSettings(args.node, KubeOneSettings.of(lab.kubeone), ssh=lab.ssh, state_dir=args.state_dir,
                                   verify_timeout=90)
        proc = ReplaceProcedure(engine.conn, engine, settings, operator)
        operator.proc = proc
        await proc.open()
        print(f"RESUMED {proc.resumed} next={proc.checklist.next_step()}", flush=True)
        try:
            outcome = await proc.run()
        finally:
            await proc.close()
    failed = [s for s in proc.checklist.steps if s.status.value == "failed"]
    print(f"OUTCOME {outcome.value}" + (f" {failed[0].reason}" if failed else ""), flush=True)
    return 0 if outcome is Outcome.DONE else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
