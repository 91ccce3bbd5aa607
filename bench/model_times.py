"""Where a build's dbt time goes, by model folder (a measurement, not a test).

Reads the `run_results.json` and `manifest.json` a `closedloop build` leaves beside the warehouse
(`<warehouse folder>/.building/target/`) and sums each node's execution time by the folder of its model under
`models/` (staging, intermediate/identity, marts/forecast, ...). A data test counts towards the model it tests,
seeds and unit tests to their own rows. This is how the build time a feature adds is measured: its folders' share
of the node time, next to the build's wall time.

    .venv/bin/closedloop build --raw /tmp/s1 --warehouse /tmp/s1w/wh.duckdb
    .venv/bin/python bench/model_times.py /tmp/s1w/wh.duckdb
    .venv/bin/python bench/model_times.py /tmp/s1w/.building/target --top 15 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def folder_of(node: dict) -> str:
    """`intermediate/identity` for models/intermediate/identity/x.sql; `seeds`, `unit tests` for the rest."""
    kind = node.get("resource_type")
    if kind == "seed":
        return "seeds"
    if kind == "unit_test":
        return "unit tests"
    parts = Path(node.get("original_file_path", "")).parts
    if parts[:1] == ("models",):
        return "/".join(parts[1:-1]) or "models"
    return kind or "other"


def times(target: Path) -> tuple[dict[str, dict[str, float]], list[tuple[float, str, str]]]:
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())
    nodes = manifest["nodes"] | manifest.get("unit_tests", {})
    groups: dict[str, dict[str, float]] = defaultdict(lambda: {"models": 0, "model_s": 0.0, "tests": 0,
                                                               "test_s": 0.0})
    slowest = []
    for result in results["results"]:
        node = nodes.get(result["unique_id"], {})
        seconds = float(result.get("execution_time") or 0.0)
        if node.get("resource_type") == "test":
            tested = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
            group = groups[folder_of(nodes.get(tested, {}))]
            group["tests"] += 1
            group["test_s"] += seconds
        else:
            group = groups[folder_of(node)]
            group["models"] += 1
            group["model_s"] += seconds
            slowest.append((seconds, node.get("name", result["unique_id"]), folder_of(node)))
    return dict(groups), sorted(slowest, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("target", type=Path,
                        help="a warehouse file, or the target folder of its build (run_results.json, manifest.json)")
    parser.add_argument("--top", type=int, default=10, help="also list this many slowest models")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.target.suffix == ".duckdb" or not (args.target / "manifest.json").exists():
        beside = (args.target.parent if args.target.suffix == ".duckdb" else args.target) / ".building" / "target"
        args.target = beside if beside.is_dir() else args.target
    missing = [f for f in ("manifest.json", "run_results.json") if not (args.target / f).is_file()]
    if missing:
        print(f"{args.target}: no {' or '.join(missing)} (give the target folder of a finished build)",
              file=sys.stderr)
        return 2
    groups, slowest = times(args.target)
    total = sum(g["model_s"] + g["test_s"] for g in groups.values())
    if args.json:
        print(json.dumps({"total_s": round(total, 2), "groups": groups,
                          "slowest": [{"s": round(s, 2), "model": m, "folder": f} for s, m, f in
                                      slowest[:args.top]]}, ensure_ascii=False, indent=2))
        return 0
    print("| folder | models | model s | tests | test s | share |\n|---|---:|---:|---:|---:|---:|")
    for name, g in sorted(groups.items(), key=lambda kv: -(kv[1]["model_s"] + kv[1]["test_s"])):
        share = (g["model_s"] + g["test_s"]) / total if total else 0.0
        print(f"| {name} | {g['models']} | {g['model_s']:.2f} | {g['tests']} | {g['test_s']:.2f} | {share:.1%} |")
    print(f"| all | | | | | {total:.2f} s node time |")
    print("\nslowest models:")
    for seconds, model, folder in slowest[:args.top]:
        print(f"  {seconds:7.2f} s  {model}  ({folder})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
