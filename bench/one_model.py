"""One dbt model rebuilt on a copy of a built warehouse: its node time, the process's peak memory and the most
DuckDB spilled to its temporary folder (a measurement, not a test).

How a rewrite of one heavy model is judged before a whole build: run it in the old tree and the new one on the same
warehouse, compare the tables, and squeeze the memory limit to stand in for a larger scale (0.8 GB at scale 100 is
the default 8 GB at a tenth of the data: what spills there spills at scale 1000).

    .venv/bin/python bench/one_model.py /tmp/q100/wh/warehouse.duckdb int_identity__identifiers --work /tmp/m-old
    .venv/bin/python bench/one_model.py WAREHOUSE int_identity__identifiers --memory 800MB --work /tmp/m-new --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

from run import size_mb  # bench/run.py, beside this script


def _watch_spill(folder: Path, stop: threading.Event, seen: list[float]) -> None:
    """The most DuckDB's temporary folder held at once, in MB, polled until `stop`."""
    while not stop.is_set():
        if folder.is_dir():
            seen[0] = max(seen[0], size_mb(folder))
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("warehouse", type=Path, help="a served warehouse a `closedloop build` made (copied, not changed)")
    ap.add_argument("model", help="the model to rebuild, e.g. int_identity__identifiers")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (emptied first)")
    ap.add_argument("--memory", help="DuckDB's memory limit for the run (CLOSEDLOOP_DBT_MEMORY), e.g. 800MB")
    ap.add_argument("--vars", help="dbt vars for the run, as YAML, e.g. '{identity_components_method: iterative}'")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args(argv)
    if args.memory:
        os.environ["CLOSEDLOOP_DBT_MEMORY"] = args.memory
    from closedloop.build import run_dbt
    from closedloop.paths import landing_root_for, read_current

    current = read_current(args.warehouse)
    if current is None:
        ap.error(f"{args.warehouse}: no landing/CURRENT beside it; give a warehouse `closedloop build` published")
    landing = landing_root_for(args.warehouse) / current
    copy = args.work / args.warehouse.name
    try:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        shutil.copy(args.warehouse, copy)
    except OSError as exc:
        ap.error(f"--work {args.work}: {exc.strerror or exc}")
    stop, seen = threading.Event(), [0.0]
    watcher = threading.Thread(target=_watch_spill, args=(copy.with_name(copy.name + ".tmp"), stop, seen), daemon=True)
    watcher.start()
    dbt_args = ["run", "--select", args.model] + (["--vars", args.vars] if args.vars else [])
    result = run_dbt(dbt_args, landing, copy, out=None, target_path=args.work / "target")
    stop.set()
    watcher.join()
    results = args.work / "target" / "run_results.json"
    if not results.is_file():  # dbt stopped before running a node (a bad memory limit, a project error)
        print(f"dbt did not run {args.model}: {result.exception or 'no run_results.json'}", file=sys.stderr)
        return 1
    nodes = json.loads(results.read_text(encoding="utf-8"))["results"]
    if not nodes:
        print(f"no model of the project is selected by {args.model!r}", file=sys.stderr)
        return 1
    figures = {"model": args.model, "success": bool(result.success), "memory_limit": args.memory or "default",
               "vars": args.vars,
               "node_s": round(sum(n["execution_time"] for n in nodes), 2),
               "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
               "temp_peak_mb": round(seen[0]), "message": next((n["message"] for n in nodes if n["message"]), "")}
    print(json.dumps(figures, ensure_ascii=False) if args.json else
          "\n".join(f"{k}: {v}" for k, v in figures.items()))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
