"""Full vs incremental build after one more day of exports (a benchmark, not a test).

Generates a sample, builds it (full, the first build), appends a day of exports (tests/incremental_day.py, without
moving a rep between departments), then `--runs` times: restores the first build, builds incrementally, and
rebuilds the same raw folder from scratch (`full_refresh=True`) into another warehouse. Prints one JSON line per
build: total seconds, validation + landing, dbt build (run_results.json elapsed), the rest (freshness, publish),
and the summed node time of the incremental models, the change models, all models, data tests and unit tests.

    .venv/bin/python bench/bench_incremental.py --scale 10 --out /tmp/bench_incremental [--runs 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

INCREMENTAL = ["int_lead_timeline", "int_ownership_intervals", "fct_leads", "fct_lead_flow_daily",
               "int_opportunity_stage_entries", "int_opportunity_outcomes", "int_opportunity_stage_timeline",
               "int_opportunity_stages_reached", "fct_opportunity_stages", "fct_opportunities"]


class _Clock(io.TextIOBase):
    """The build's output, timed: when dbt started."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.dbt_start: float | None = None

    def write(self, s: str) -> int:
        if self.dbt_start is None and "Building with dbt" in s:
            self.dbt_start = time.monotonic() - self.t0
        return len(s)


def _timed(label: str, raw: Path, warehouse: Path, target: Path, **kwargs) -> dict:
    from closedloop.build import build

    os.environ["DBT_TARGET_PATH"] = str(target)  # run_results.json of this build only
    clock = _Clock()
    started, cpu = time.monotonic(), os.times().user
    result = build(raw, warehouse, out=clock, **kwargs)
    total = time.monotonic() - started
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    node = {r["unique_id"]: r["execution_time"] for r in results["results"]}

    def summed(prefix: str, names: list[str] | None = None) -> float:
        return round(sum(t for k, t in node.items() if k.startswith(prefix)
                         and (names is None or k.rsplit(".", 1)[-1] in names)), 2)

    return {
        "build": label, "mode": result.mode, "total_s": round(total, 1),
        "validate_land_s": round(clock.dbt_start, 1), "dbt_s": round(results["elapsed_time"], 1),
        "rest_s": round(total - clock.dbt_start - results["elapsed_time"], 1),
        "cpu_user_s": round(os.times().user - cpu, 1),
        "nodes": len(node), "incremental_models_s": summed("model.", INCREMENTAL),
        "change_models_s": round(sum(t for k, t in node.items() if ".int_incremental__" in k), 2),
        "all_models_s": summed("model."), "data_tests_s": summed("test."), "unit_tests_s": summed("unit_test."),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    from incremental_day import append_day

    from closedloop.generate import generate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True, help="scratch folder (emptied)")
    args = ap.parse_args()

    root = args.out
    shutil.rmtree(root, ignore_errors=True)
    generate(root / "raw", scale=args.scale, seed=args.seed)
    print(json.dumps(_timed("first build", root / "raw", root / "wh" / "warehouse.duckdb", root / "t_first")),
          flush=True)
    subprocess.run(["cp", "-a", str(root / "wh"), str(root / "wh_first")], check=True)  # keeps the hard links
    print(json.dumps({"appended": append_day(root / "raw", date(2026, 11, 1), seed=5, move_user=False)}), flush=True)
    for run in range(1, args.runs + 1):
        shutil.rmtree(root / "wh")
        subprocess.run(["cp", "-a", str(root / "wh_first"), str(root / "wh")], check=True)
        print(json.dumps(_timed(f"incremental {run}", root / "raw", root / "wh" / "warehouse.duckdb",
                                root / f"t_incremental{run}")), flush=True)
        shutil.rmtree(root / "wh_full", ignore_errors=True)
        print(json.dumps(_timed(f"full {run}", root / "raw", root / "wh_full" / "warehouse.duckdb",
                                root / f"t_full{run}", full_refresh=True)), flush=True)


if __name__ == "__main__":
    main()
