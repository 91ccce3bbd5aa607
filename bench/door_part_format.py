"""The door's part format, A/B (a benchmark, not a test): land one raw folder with no cache, the parts written
uncompressed or in LZ4 pages (closedloop.landing.PART_WRITE), and print wall and CPU seconds. Run the two
alternately, each in its own process, so the machine's drift falls on both.

    for m in none lz4 none lz4; do .venv/bin/python bench/door_part_format.py --raw /tmp/qd100/raw --parts $m; done
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import tempfile
import time
from pathlib import Path

from closedloop import landing

FORMATS = {"none": {"compression": "none", "use_dictionary": False},
           "lz4": {"compression": "lz4", "use_dictionary": False}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, required=True, help="a raw folder (closedloop generate --out)")
    ap.add_argument("--parts", choices=sorted(FORMATS), required=True, help="how the door writes its parts")
    args = ap.parse_args()
    landing.PART_WRITE = FORMATS[args.parts]
    target = Path(tempfile.mkdtemp(prefix="door-parts-"))
    try:
        started, cpu = time.monotonic(), time.process_time()
        landing.land(args.raw, target / "landing", out=io.StringIO())
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        print(f"{args.parts}: wall {time.monotonic() - started:.1f} s, CPU {time.process_time() - cpu:.1f} s here "
              f"+ {children:.1f} s in the worker")
    finally:
        shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
