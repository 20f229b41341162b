"""ganforge's share of a CPU that other work already keeps busy: the threads a run trains on and how they wait.

OpenMP threads that wait for one another spin by default; on a machine already loaded they spin on cores the
other work needs and are descheduled mid-step, so a run beside another job took 4x (fp32) to 10x (bf16) its time
alone where a fair share of two cores is 2x (docs/benchmarks.md, bench/busy.py). `ganforge train` therefore looks at the CPUs
it may run on for a quarter of a second before torch starts: where other work keeps at least half a core busy,
OpenMP's threads wait passively (OMP_WAIT_POLICY=PASSIVE, read once when torch loads; unless the environment
already sets it) and train.threads=0 (auto) trains on the cores left free, at least one. On an idle machine
nothing changes. The Python API does not measure: there auto keeps the process's own thread setting.

No torch import here: the wait policy must be in the environment before torch loads.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ganforge.wording import plural

BUSY = 0.5  # cores of other work from which the machine counts as busy
WINDOW_S = 0.25  # how long /proc/stat is watched

busy_at_start: float | None = None  # cores kept busy by other work when `ganforge train` started; None: not measured


def cpu_ticks(cpus: set[int], stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(busy ticks, all ticks) summed over `cpus` from /proc/stat; None where it cannot be read."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
        busy += sum(ticks) - ticks[3] - ticks[4]
        total += sum(ticks)
    return (busy, total) if total else None


def other_busy_cores(window_s: float | None = None) -> float | None:
    """Cores of this process's CPUs that other work keeps busy, averaged over `window_s` while this process
    sleeps; None where /proc/stat cannot be read (not Linux)."""
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    before = cpu_ticks(cpus)
    time.sleep(WINDOW_S if window_s is None else window_s)
    after = cpu_ticks(cpus)
    if before is None or after is None or after[1] <= before[1]:
        return None
    return len(cpus) * (after[0] - before[0]) / (after[1] - before[1])


def prepare_process() -> float | None:
    """For `ganforge train`, before torch loads: measure the other work, and where it keeps the machine busy,
    set OpenMP's passive wait unless the environment chose a policy. Returns the busy cores (kept for
    `threads_for`)."""
    global busy_at_start
    busy_at_start = other_busy_cores()
    if busy_at_start is not None and busy_at_start >= BUSY:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return busy_at_start


def threads_for(setting: int, cores: int, busy: float | None) -> tuple[int | None, str | None]:
    """(threads to train on, None to keep the process's; a one-line note or None) for train.threads=`setting`
    on `cores` cores of which other work keeps `busy` busy (None: not measured)."""
    if setting > 0:
        return setting, None
    if busy is None or busy < BUSY:
        return None, None
    threads = min(max(1, round(cores - busy)), cores)
    wait = ", OpenMP threads wait passively" if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" else ""
    return threads, (f"the machine is busy: other work keeps {busy:.1f} of its {plural(cores, 'core')} busy, so "
                     f"this run trains on {plural(threads, 'thread')}{wait} (train.threads={cores} asks for every core)")
