"""CPU time of the system's processes, read from /proc (no psutil in the venv), so a capacity
model can use CPU-milliseconds per message per process kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Union

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> List[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # the fields after the command name; [0] is field 3


def _descendants(pid: int) -> List[int]:
    """``pid`` and every process below it (a server's workers, if it forks any)."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` and its descendants, in seconds."""
    total = 0
    for each in _descendants(pid):
        try:
            fields = _stat(each)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


class CpuMeter:
    """CPU seconds per process kind (one process, or several: a cluster's) between :meth:`start`
    and :meth:`stop`."""

    def __init__(self, pids: Dict[str, Union[int, List[int]]]):
        self.pids = {kind: [pid] if isinstance(pid, int) else list(pid) for kind, pid in pids.items()}
        self.started: Dict[str, float] = {}

    def _seconds(self, kind: str) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids[kind])

    def start(self) -> None:
        self.started = {kind: self._seconds(kind) for kind in self.pids}

    def stop(self, messages: int) -> Dict[str, float]:
        """CPU milliseconds per message of each kind, and ``total``."""
        spent = {kind: self._seconds(kind) - self.started[kind] for kind in self.pids}
        per_message = {kind: 1000 * seconds / messages for kind, seconds in spent.items()}
        per_message["total"] = sum(per_message.values())
        return per_message
