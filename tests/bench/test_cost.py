"""The cost benchmark's arithmetic and its CPU accounting (no servers)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.cost import per_meeting, tree_cpu_s


def test_the_idle_rate_over_the_same_time_is_subtracted_per_meeting() -> None:
    idle = {"seconds": 10.0, "cpu_s": {"meetings": 0.5, "ferretdb": 1.0},
            "counts": {"meetings": {"store find users": 10.0, "published": 0.0}}}
    load = {"seconds": 20.0, "cpu_s": {"meetings": 3.0, "ferretdb": 6.0},
            "counts": {"meetings": {"store find users": 220.0, "store insert meetings": 100.0,
                                    "published": 100.0}}}

    figures = per_meeting(load, idle, meetings=100)

    # meetings: 3.0 s - 2 x 0.5 s idle = 2.0 s over 100 meetings; ferretdb: 6 - 2 = 4 s
    assert figures["cpu_ms"] == {"ferretdb": 40.0, "meetings": 20.0}
    assert figures["cpu_ms_total"] == 60.0
    assert figures["counts"]["meetings"] == {"published": 1.0, "store find users": 2.0,
                                             "store insert meetings": 1.0}
    assert figures["store_round_trips"] == {"meetings": 3.0}
    assert figures["capacity_per_s"] == round((os.cpu_count() or 1) * 1000 / 60.0, 1)


def test_a_process_tree_counts_the_children_it_reaped() -> None:
    before = tree_cpu_s(os.getpid())
    subprocess.run([sys.executable, "-c",
                    "import time\nend = time.process_time() + 0.3\n"
                    "while time.process_time() < end: pass"], check=True)
    assert tree_cpu_s(os.getpid()) - before >= 0.25
