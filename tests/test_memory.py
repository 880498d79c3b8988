"""The run's process and its dbt worker give freed memory back around each dbt build
(orchestration.warehouse.give_back_memory): at 100M order lines that is what keeps the two
processes together under the memory budget (bench/README.md, ninth pass)."""

from __future__ import annotations

import subprocess
import sys

FRAGMENTED = """
import gc
import os
from orchestration.warehouse import give_back_memory

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

class Result:  # as GE's results: objects that refer to each other, and to the data
    pass

gc.disable()  # as between Python's rare full collections
blocks = [bytes(64 * 1024) for _ in range(8000)]  # 500 MB from malloc's heap, not mmap
kept = blocks[::50]  # a few live blocks pin the heap: free() alone gives little back
cycle = Result()
cycle.itself, cycle.blocks = cycle, blocks[: len(blocks) // 2]  # garbage only gc can free
del blocks, cycle
before = rss_mb()
give_back_memory(collect=True)
print(before, rss_mb(), len(kept))
"""


def test_memory_a_step_freed_goes_back_to_the_operating_system():
    """Half a gigabyte freed (half of it held by a reference cycle) in holes of the heap stays
    resident until the release, and is gone after it, while the blocks still in use survive."""
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, check=True
    ).stdout
    before, after, kept = (float(x) for x in out.split())
    assert before > 330, f"the freed blocks were not resident before the release ({before} MB)"
    assert after < before - 300, f"resident {before:.0f} MB -> {after:.0f} MB"
    assert kept == 160
