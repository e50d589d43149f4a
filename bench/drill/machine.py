"""How busy the machine was with work that is not the drill's, while the drill ran.

Benchmarks here share 2 cores with other people's tests, so each run reports the CPU the rest of
the machine used during it: all busy CPU time (``/proc/stat``) minus the drill's own (this
process and every child it has waited for: servers, nginx and its workers, the operator).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def _own_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@dataclass(frozen=True)
class Sample:
    wall: float
    busy: float
    own: float

    @classmethod
    def now(cls) -> Sample:
        return cls(time.monotonic(), _busy_seconds(), _own_seconds())


def foreign_cores(start: Sample, end: Sample) -> float:
    """Mean cores used by other work between two samples (taken after the drill reaped its own)."""
    wall = max(end.wall - start.wall, 1e-9)
    return max(0.0, (end.busy - start.busy) - (end.own - start.own)) / wall
