#!/usr/bin/env python3
"""Times drain3 over a log file: drain3_throughput.py FILE {default|masked} [MASKING_INI]

Prints one line: `drain3 <config> <lines> lines <cpu_s> cpu_s <wall_s> wall_s <templates> templates`.
`default` is TemplateMiner's built-in configuration (no masking); `masked` loads the [MASKING]
section of drain3's documented example configuration (examples/drain3.ini in logpai/Drain3).
"""
import logging
import sys
import time

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

logging.disable(logging.WARNING)


def main():
    path, kind = sys.argv[1], sys.argv[2]
    config = TemplateMinerConfig()
    if kind == "masked":
        config.load(sys.argv[3])
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    n = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            miner.add_log_message(line)
            n += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"drain3 {kind} {n} lines {cpu:.3f} cpu_s {wall:.3f} wall_s {len(miner.drain.clusters)} templates")


if __name__ == "__main__":
    main()
