"""A niced child in a session of its own must lower its whole session's share of the CPU.

With the kernel's autogroup scheduling (on by default in most Linux distributions), the CPU is
first shared fairly between sessions and `nice` only ranks processes within one: a training
child started at nice 10 in its own session (`bot/core/children.py`) still took a full half of
a 2-core machine from the service. Its session's autogroup takes its niceness too.
"""

from __future__ import annotations

import os
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")


def nice_own_session() -> None:
    """Give this process's autogroup its own niceness, when it is niced and leads its session
    (a command typed in a shell leaves the shell's session alone)."""
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness <= 0 or os.getsid(0) != os.getpid():
        return
    try:
        AUTOGROUP.write_text(str(niceness))
    except OSError:  # no autogroups here (or not Linux): `nice` alone ranks the processes
        pass
