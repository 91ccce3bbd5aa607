"""The benchmark scripts still run (issue 6): bench/run.py end to end at scale 0.2, so they do not rot (the scale
only has to exercise every step; the figures in docs/benchmarks.md come from real runs at scales 1 to 1000).

Timings are not asserted here (speed is measured by the benchmarks, never by tests); what is asserted is that every
step ran, the figures are there and sane, the pandas baseline gives the warehouse's numbers, and the Markdown
renderer of docs/benchmarks.md accepts the result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCALE = "0.2"


@pytest.mark.slow
def test_bench_run_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done = subprocess.run([sys.executable, "bench/run.py", "--scale", SCALE, "--loads", "2", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))

    assert result["generate"]["rows"] > 20_000  # scale 0.2: ~48k rows
    for step in ("generate", "floor", "validate", "build", "baseline", "incremental"):
        assert result[step]["seconds"] > 0, step
        assert result[step]["peak_mb"] > 50, step  # a Python process with pandas or DuckDB loaded, at least
    # the build's phases add up to the whole
    b = result["build"]
    assert abs(b["validate_land_s"] + b["dbt_s"] + b["rest_s"] - b["seconds"]) < 0.05
    assert 0 < b["validate_land_s"] < b["seconds"] and 0 < b["dbt_s"] < b["seconds"] and b["rest_s"] > 0
    assert b["warehouse_mb"] > 1 and b["landing_mb"] > 0.1
    # the baseline was checked against the warehouse mart by mart, and every mart was timed
    assert result["baseline"]["checked"] is True
    assert set(result["baseline"]["marts"]) == {"stage_conversion", "lead_flow_daily", "campaign_roi",
                                                "resource_turnover", "customer_value"}
    # every page loaded, with queries timed
    assert set(result["pages"]) == {view.stem for view in (REPO / "dashboards" / "views").glob("*.py")}
    for page, p in result["pages"].items():
        assert p["loads"] == 2 and p["queries"] > 0, page
        assert 0 < p["query_p50_s"] <= p["query_p95_s"] <= p["script_p95_s"], page
    # the day appended reached an incremental build
    assert result["incremental_day"]["new_leads"] > 0
    assert set(result["targets"]) >= {"generator ≥ 500k rows/s", "full build ≤ 20× floor", "≥ 5× faster than pandas",
                                      "incremental ≤ 10% of full", "page query p95 ≤ 300 ms"}

    table = subprocess.run([sys.executable, "bench/run.py", "--markdown", str(out / "result.json")], cwd=REPO,
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "| full build ÷ floor |" in table and f"scale {SCALE} |" in table and "–" not in table.split("Targets")[0]

    # Measured again on the same sample: nothing generated, the appended day removed, the figures carried over.
    again = subprocess.run([sys.executable, "bench/run.py", "--scale", SCALE, "--out", str(out), "--reuse-raw",
                            "--skip", "validate", "baseline", "pages", "incremental"],
                           cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    second = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert second["generate"]["reused_from"] == result["date"]
    assert second["generate"]["seconds"] == result["generate"]["seconds"]
    assert second["floor"]["read_s"] > 0 and second["build"]["seconds"] > 0
    assert not list((out / "raw").rglob("*_2026-11-01.csv"))


def test_a_step_past_its_memory_cap_is_stopped_and_reported() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import run
    finally:
        sys.path.pop(0)
    hog = run.run_step([sys.executable, "-c", "import time; x = bytearray(400 << 20); time.sleep(30)"],
                       memory_cap_mb=200)
    assert hog.killed and hog.seconds < 20
    fine = run.run_step([sys.executable, "-c", "print('done')"], memory_cap_mb=200)
    assert not fine.killed and fine.output.strip() == "done"


def test_a_failed_build_keeps_the_figures_so_far_and_ends_in_a_sentence(tmp_path: Path, monkeypatch, capsys) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import run
    finally:
        sys.path.pop(0)
    seen: list[str] = []
    with pytest.raises(run.StepFailed) as failed:
        run.run_step([sys.executable, "-c", "print('Building with dbt (full)'); import sys; sys.exit(3)"],
                     markers=("Building with dbt",), on_mark={"Building with dbt": lambda: seen.append("dbt")})
    assert failed.value.returncode == 3 and seen == ["dbt"] and "Building with dbt" in failed.value.marks

    def build_fails(raw: Path, warehouse: Path, *flags: str, drop_raw: bool = False):
        assert drop_raw  # --drop-raw reaches the build step
        raise failed.value

    monkeypatch.setattr(run, "build_step", build_fails)
    out = tmp_path / "bench"
    code = run.main(["--scale", "0.02", "--out", str(out), "--drop-raw",
                     "--skip", "validate", "baseline", "pages", "incremental"])
    err = capsys.readouterr().err
    assert code == 1 and "a step failed (exit 3)" in err and "Traceback" not in err, err
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["generate"]["rows"] > 0 and result["floor"]["read_s"] > 0
    assert result["build"]["failed"] is True and result["build"]["validate_land_s"] is not None
    assert result["build"]["last_output"] == ["Building with dbt (full)"]
    # --drop-raw without skipping the steps that read raw after the build is refused before anything runs
    with pytest.raises(SystemExit) as refused:
        run.main(["--scale", "0.02", "--out", str(tmp_path / "other"), "--drop-raw"])
    assert refused.value.code == 2 and not (tmp_path / "other").exists()
