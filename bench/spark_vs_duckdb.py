"""Spark local against DuckDB on one sample (issue 16; a benchmark, not a test).

Each step in its own process, timed from outside:

  generate      closedloop generate --scale S (skipped with --raw)
  session       a bare SparkSession with spark_local's settings, up to its first query: the JVM start-up
  parse         dbt parse --no-partial-parse on the DuckDB target and on spark_local (Python start-up included)
  duckdb        closedloop build                   total; per-node times from its run_results.json
  spark         closedloop build --engine spark    total, split by the seconds it prints (session start and
                registering, dbt on Spark, copy-back, DuckDB's part after it); per-node times from Spark's
                run_results.json; Spark's event log (stage run times, shuffle bytes, by model)
  compare       closedloop.compare: every mart of the two warehouses (must be 0 differing tables)

Per-model overhead: the median node time of the models that read little (the lower half by DuckDB time) on each
engine. Writes `<out>/result.json` with the machine, load, commit and every figure.

    .venv/bin/python bench/spark_vs_duckdb.py --scale 1 --out /tmp/sd1
    .venv/bin/python bench/spark_vs_duckdb.py --markdown bench/results/spark-vs-duckdb-scale-*.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI = [PYTHON, "-m", "closedloop.cli"]

SESSION_PROBE = """
import time
t = time.perf_counter()
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[*]").config("spark.driver.memory", "2g")
         .config("spark.ui.enabled", "false").config("spark.log.level", "ERROR").getOrCreate())
spark.sql("select 1").collect()
print(f"SESSION {time.perf_counter() - t:.2f}")
spark.stop()
"""


def run(argv: list[str], env: dict | None = None, timeout: float = 4 * 3600) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def node_times(target: Path) -> list[dict]:
    """Every node of a dbt run: name, folder, resource type, execution seconds."""
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())
    nodes = manifest["nodes"] | manifest.get("unit_tests", {})
    out = []
    for r in results["results"]:
        node = nodes.get(r["unique_id"], {})
        parts = Path(node.get("original_file_path", "")).parts
        out.append({"name": node.get("name", r["unique_id"]), "type": node.get("resource_type"),
                    "folder": "/".join(parts[1:-1]) if parts[:1] == ("models",) else node.get("resource_type"),
                    "seconds": round(float(r.get("execution_time") or 0.0), 3)})
    return out


def summary(nodes: list[dict], top: int = 10) -> dict:
    models = [n for n in nodes if n["type"] == "model"]
    tests = [n for n in nodes if n["type"] == "test"]
    seeds = [n for n in nodes if n["type"] == "seed"]
    by_folder: dict[str, float] = defaultdict(float)
    for n in models:
        by_folder[n["folder"]] += n["seconds"]
    return {
        "models": len(models), "model_seconds": round(sum(n["seconds"] for n in models), 1),
        "model_median": round(statistics.median([n["seconds"] for n in models]), 3) if models else None,
        "tests": len(tests), "test_seconds": round(sum(n["seconds"] for n in tests), 1),
        "seeds": len(seeds), "seed_seconds": round(sum(n["seconds"] for n in seeds), 1),
        "by_folder": {k: round(v, 1) for k, v in sorted(by_folder.items(), key=lambda kv: -kv[1])},
        "heaviest": [[n["name"], n["seconds"]] for n in sorted(models, key=lambda n: -n["seconds"])[:top]],
    }


def small_model_overhead(duck: list[dict], spark: list[dict]) -> dict:
    """Median time of the models in the lower half by DuckDB time, on each engine (the fixed cost of a model)."""
    d = {n["name"]: n["seconds"] for n in duck if n["type"] == "model"}
    s = {n["name"]: n["seconds"] for n in spark if n["type"] == "model"}
    both = sorted((name for name in d if name in s), key=lambda name: d[name])
    small = both[: len(both) // 2]
    if not small:
        return {}
    return {"models": len(small), "duckdb_median": round(statistics.median(d[m] for m in small), 3),
            "spark_median": round(statistics.median(s[m] for m in small), 3)}


# the table a statement writes, in its physical plan: "(2) CreateDataSourceTableAsSelectCommand\nArguments:
# `spark_catalog`.`marts`.`fct_leads`, …" (a model's `create table … as`, or a Python model's saveAsTable)
_TABLE_IN_PLAN = re.compile(r"(?:AsSelectCommand|InsertInto\w*Command)[^`]*?Arguments: "
                            r"`spark_catalog`\.`(\w+)`\.`(\w+)`")


def event_log_stages(folder: Path) -> dict:
    """Spark's event log: per model (the table its SQL creates), the stages' summed executor run time and the
    shuffle bytes written/read; plus the totals. Stages map to SQL executions through `spark.sql.execution.id`."""
    # Spark 4 writes a rolling log: a folder `eventlog_v2_<app>` of `events_<n>_…` files
    logs = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    if not logs:
        return {}
    execution_model: dict[str, str] = {}
    stage_execution: dict[int, str] = {}
    per_model: dict[str, dict[str, float]] = defaultdict(lambda: {"run_s": 0.0, "shuffle_stages": 0,
                                                                  "shuffle_run_s": 0.0, "shuffle_mb": 0.0,
                                                                  "stages": 0})
    totals = {"stages": 0, "run_s": 0.0, "shuffle_stages": 0, "shuffle_run_s": 0.0, "shuffle_mb": 0.0}
    for log in logs:
        with log.open() as fh:
            for line in fh:
                event = json.loads(line)
                kind = event.get("Event", "")
                if kind.endswith("SQLExecutionStart"):
                    found = _TABLE_IN_PLAN.search(event.get("physicalPlanDescription", ""))
                    execution, root = str(event["executionId"]), str(event.get("rootExecutionId", ""))
                    if found:
                        execution_model[execution] = f"{found.group(1)}.{found.group(2)}"
                    elif root in execution_model:  # a statement's writing job runs as a child execution
                        execution_model[execution] = execution_model[root]
                elif kind == "SparkListenerJobStart":
                    execution = (event.get("Properties") or {}).get("spark.sql.execution.id")
                    for stage in event.get("Stage IDs", []):
                        stage_execution[stage] = execution
                elif kind == "SparkListenerStageCompleted":
                    info = event["Stage Info"]
                    acc = {a.get("Name"): a.get("Value") for a in info.get("Accumulables", [])}
                    run_s = float(acc.get("internal.metrics.executorRunTime", 0) or 0) / 1000
                    read = float(acc.get("internal.metrics.shuffle.read.remoteBytesRead", 0) or 0) + float(
                        acc.get("internal.metrics.shuffle.read.localBytesRead", 0) or 0)
                    written = float(acc.get("internal.metrics.shuffle.write.bytesWritten", 0) or 0)
                    shuffles = read > 0 or written > 0
                    model = execution_model.get(str(stage_execution.get(info["Stage ID"])), "(other)")
                    for bucket in (per_model[model], totals):
                        bucket["stages"] += 1
                        bucket["run_s"] += run_s
                        if shuffles:
                            bucket["shuffle_stages"] += 1
                            bucket["shuffle_run_s"] += run_s
                            bucket["shuffle_mb"] += (read + written) / 2 / 1e6
    rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in totals.items()}
    heaviest = sorted(per_model.items(), key=lambda kv: -kv[1]["shuffle_run_s"])[:10]
    return {"totals": rounded,
            "by_model_shuffle": [[m, {k: round(v, 1) if isinstance(v, float) else v for k, v in f.items()}]
                                 for m, f in heaviest]}


def printed_seconds(output: str, pattern: str) -> float | None:
    found = re.search(pattern + r".*? in ([0-9.]+) s", output)
    return float(found.group(1)) if found else None


def machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpus": os.cpu_count(), "memory_gb": round(memory / 2**30), "platform": platform.platform(),
            "python": platform.python_version()}


def load() -> str:
    """The 1, 5 and 15-minute load averages (the machine is shared)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench(scale: str, out: Path, raw: Path | None, seed: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"scale": scale, "seed": seed, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                             text=True).stdout.strip(),
                    "machine": machine(), "load_before": load(),
                    "shuffle_partitions": int(os.environ.get("CLOSEDLOOP_SPARK_SHUFFLE_PARTITIONS", "4")),
                    "spark_threads": int(os.environ.get("CLOSEDLOOP_SPARK_THREADS", "2")),
                    "command": " ".join([Path(sys.executable).name, *sys.argv])}
    if raw is None:
        raw = out / "raw"
        if not raw.exists():
            result["generate_s"] = round(run([*CLI, "generate", "--scale", scale, "--seed", seed, "--out",
                                                str(raw)])[0], 1)
    result["raw"] = str(raw)
    seconds, text = run([PYTHON, "-c", SESSION_PROBE])
    result["session_start_s"] = float(re.search(r"SESSION ([0-9.]+)", text).group(1))
    result["session_process_s"] = round(seconds, 1)
    parse = {}
    for target in ("dev", "spark_local"):
        parse[target] = round(run([str(Path(sys.executable).parent / "dbt"), "parse", "--no-partial-parse",
                                   "--project-dir", str(REPO), "--profiles-dir", str(REPO), "--target", target,
                                   "--target-path", str(out / f"parse-{target}")],
                                  env={"CLOSEDLOOP_LANDING": str(out), "CLOSEDLOOP_WAREHOUSE":
                                       str(out / "parse.duckdb")})[0], 1)
    result["dbt_parse_s"] = parse
    result["load_duckdb"] = load()
    duck_wh = out / "duckdb" / "wh.duckdb"
    shutil.rmtree(duck_wh.parent, ignore_errors=True)
    seconds, text = run([*CLI, "build", "--raw", str(raw), "--warehouse", str(duck_wh)])
    duck_nodes = node_times(duck_wh.parent / ".building" / "target")
    result["raw_rows"] = json.loads((duck_wh.parent / "runs.jsonl").read_text().splitlines()[-1])["rows_read"]
    result["duckdb"] = {"total_s": round(seconds, 1), **summary(duck_nodes)}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"duckdb {seconds:.0f} s", flush=True)
    result["load_spark"] = load()
    spark_wh = out / "spark" / "wh.duckdb"
    shutil.rmtree(spark_wh.parent, ignore_errors=True)
    events = out / "spark-events"
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir()
    seconds, text = run([*CLI, "build", "--raw", str(raw), "--warehouse", str(spark_wh), "--engine", "spark"],
                        env={"CLOSEDLOOP_SPARK_EVENT_LOG": f"file://{events}"})
    spark_nodes = node_times(spark_wh.parent / ".building" / "target-spark")
    after_nodes = node_times(spark_wh.parent / ".building" / "target")
    result["spark"] = {
        "total_s": round(seconds, 1),
        "session_and_register_s": printed_seconds(text, "Spark session ready"),
        "dbt_on_spark_s": printed_seconds(text, "dbt on Spark passed"),
        "copy_back_s": printed_seconds(text, "Copied"),
        **summary(spark_nodes),
        "after_spark_on_duckdb": summary(after_nodes, top=3),
    }
    (out / "spark-build.log").write_text(text)
    (out / "result.json").write_text(json.dumps(result, indent=1))  # so far, in case a later step fails
    try:
        result["spark"]["event_log"] = event_log_stages(events)
    except (OSError, ValueError, KeyError) as exc:  # the figures above stand without it
        result["spark"]["event_log"] = {"error": repr(exc)}
    result["small_model_overhead"] = small_model_overhead(duck_nodes, spark_nodes)
    result["load_after"] = load()
    print(f"spark {seconds:.0f} s", flush=True)
    sys.path.insert(0, str(REPO))
    from closedloop.compare import compare_warehouses

    differences = compare_warehouses(duck_wh, spark_wh, ("marts",))
    result["marts_differing"] = [str(d) for d in differences]
    result["node_times"] = {"duckdb": duck_nodes, "spark": spark_nodes}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return result


def markdown(paths: list[Path]) -> str:
    rows = [json.loads(p.read_text()) for p in paths]
    lines = ["| figure | " + " | ".join(f"scale {r['scale']}" for r in rows) + " |",
             "|---|" + "---|" * len(rows)]

    def row(label, get):
        lines.append(f"| {label} | " + " | ".join(str(get(r)) for r in rows) + " |")

    row("raw rows", lambda r: f"{r['raw_rows']:,}" if r.get("raw_rows") else "–")
    row("load (1-min average) before / at DuckDB / at Spark / after", lambda r: " / ".join(
        (r.get(k) or "–").split()[0] for k in ("load_before", "load_duckdb", "load_spark", "load_after")))
    row("DuckDB build, total (s)", lambda r: r["duckdb"]["total_s"])
    row("Spark build, total (s)", lambda r: r["spark"]["total_s"])
    row("Spark ÷ DuckDB", lambda r: f"{r['spark']['total_s'] / r['duckdb']['total_s']:.1f}×")
    row("bare SparkSession start-up (s)", lambda r: r["session_start_s"])
    row("Spark: session start + sources registered (s)", lambda r: r["spark"]["session_and_register_s"])
    row("dbt parse, DuckDB / spark_local (s, process)", lambda r: f"{r['dbt_parse_s']['dev']} / "
        f"{r['dbt_parse_s']['spark_local']}")
    row("dbt on Spark (s)", lambda r: r["spark"]["dbt_on_spark_s"])
    row("copy-back Spark → DuckDB (s)", lambda r: r["spark"]["copy_back_s"])
    row("DuckDB's part after Spark: models + tests (s)",
        lambda r: f"{r['spark']['after_spark_on_duckdb']['model_seconds']} + "
        f"{r['spark']['after_spark_on_duckdb']['test_seconds']}")
    row("models: sum of node times, DuckDB / Spark (s)", lambda r: f"{r['duckdb']['model_seconds']} / "
        f"{r['spark']['model_seconds']}")
    row("median model, DuckDB / Spark (s)", lambda r: f"{r['duckdb']['model_median']} / {r['spark']['model_median']}")
    row("median small model (lower half), DuckDB / Spark (s)",
        lambda r: f"{r['small_model_overhead'].get('duckdb_median')} / {r['small_model_overhead'].get('spark_median')}")
    row("Spark stages / with a shuffle", lambda r: f"{r['spark']['event_log'].get('totals', {}).get('stages')} / "
        f"{r['spark']['event_log'].get('totals', {}).get('shuffle_stages')}")
    row("Spark executor time, all / shuffle stages (s)",
        lambda r: f"{r['spark']['event_log'].get('totals', {}).get('run_s')} / "
        f"{r['spark']['event_log'].get('totals', {}).get('shuffle_run_s')}")
    row("marts differing", lambda r: len(r["marts_differing"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1")
    parser.add_argument("--seed", default="42")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--raw", type=Path, help="an existing raw sample (skips generate)")
    parser.add_argument("--markdown", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    if args.out is None:
        parser.error("--out is needed")
    result = bench(args.scale, args.out, args.raw, args.seed)
    print(json.dumps({k: v for k, v in result.items() if k != "node_times"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
