"""Hashing and decoding a training folder into the cache: files per second by worker processes.

    python scripts/speed/measure_caching.py FOLDER [N] [JOBS ...]

Caches the first N photos of FOLDER (default 3000) into a new empty cache for each number of
jobs (default 1 and every core), at the cache side of 128-pixel crops, and prints the time and
files per second of each phase. For docs/benchmarks.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bwcolor.files.inputs import expand_inputs
from bwcolor.training import dataset


def main() -> None:
    folder = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    jobs_list = [int(j) for j in sys.argv[3:]] or [1, os.cpu_count() or 1]
    sources, _ = expand_inputs([folder])
    files = [dataset.DataFile(s.path, folder) for s in sources[:count]]
    print(f"{len(files)} files from {folder}; {os.cpu_count()} cores")
    for jobs in jobs_list:
        marks: dict[str, float] = {}

        def on_event(kind, marks=marks, **info):
            if kind == "phase":
                marks[info["name"]] = time.perf_counter()

        with tempfile.TemporaryDirectory(prefix="bwcolor-cache-") as cache:
            t0 = time.perf_counter()
            _, _, summary = dataset.load_images(files, 160, Path(cache), 0.1, jobs=jobs, on_event=on_event)
            end = time.perf_counter()
        hashing = marks["decoding into the cache"] - marks["hashing"]
        decoding = end - marks["decoding into the cache"]
        print(
            f"jobs {jobs}: hashing {hashing:.1f} s ({len(files) / hashing:.0f} files/s), decoding "
            f"{decoding:.1f} s ({summary.decoded / decoding:.0f} files/s), total {end - t0:.1f} s"
        )


if __name__ == "__main__":
    main()
