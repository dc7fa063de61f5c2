"""One replace procedure per cluster: the lock file (0600, the owner's pid), with stale-lock detection.

Real processes own the lock: one that exits without releasing it leaves a stale lock, which is taken over;
one that is alive makes a second procedure refuse, naming its pid.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from etcdtui.engine.replace_journal import JournalError, ProcedureLock

pytestmark = pytest.mark.integration


def test_lock_refuses_a_second_procedure_and_takes_over_a_stale_lock(tmp_path: Path) -> None:
    lock = ProcedureLock(tmp_path, "k")
    child = subprocess.run(  # another process takes the lock and dies without releasing it
        [sys.executable, "-c", "import sys; from pathlib import Path; from etcdtui.engine.replace_journal import "
         "ProcedureLock; ProcedureLock(Path(sys.argv[1]), 'k').acquire()", str(tmp_path)],
        check=True, capture_output=True, text=True,
    )
    assert child.returncode == 0 and lock.path.exists()
    stale_owner = lock.owner()
    assert stale_owner is not None and stale_owner != os.getpid()
    lock.acquire()  # the owner is gone: stale, taken over
    assert lock.owner() == os.getpid() and stat.S_IMODE(lock.path.stat().st_mode) == 0o600
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from etcdtui.engine.replace_journal "
         "import ProcedureLock; ProcedureLock(Path(sys.argv[1]), 'k2').acquire(); print('held', flush=True); "
         "time.sleep(30)", str(tmp_path)], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(JournalError, match=f"pid {holder.pid}"):
            ProcedureLock(tmp_path, "k2").acquire()
    finally:
        holder.kill()
        holder.wait()
    lock.release()
    assert not lock.path.exists()
