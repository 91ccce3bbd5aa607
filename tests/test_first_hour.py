"""The first hour of a new user: progress output, help texts that tell the truth, the demo's freshness.

Progress is checked on both kinds of output: a terminal gets one rewritten status line, anything else (cron, a pipe,
a log file) plain lines without a carriage return. The help texts are checked against what the code does (the build
selector, the generator's real sizes), and `--freshness-as-of` against dbt's own rule.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from closedloop import runs
from closedloop.build import _DbtProgress
from closedloop.cli import parser
from closedloop.freshness import SourceFreshness, _judge_against, parse_reference
from closedloop.paths import ConfigError
from closedloop.progress import Progress
from closedloop.status import print_runs

REPO = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def help_of(command: str) -> str:
    sub = next(a for a in parser()._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())


def node_event(index: int, total: int, status: str = "success"):
    return SimpleNamespace(info=SimpleNamespace(name="LogModelResult", msg=f"{index} of {total} {status.upper()} x"),
                           data=SimpleNamespace(status=status, index=index, total=total))


# ---- progress -------------------------------------------------------------------------------------------------

def test_progress_is_plain_lines_off_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(out)
    p.update("status only a terminal sees")
    p.update("a step", step=True)
    p.line("a line")
    p.done()
    assert out.getvalue() == "a step\na line\n"


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    out = Terminal()
    p = Progress(out)
    p.update("first")
    p.update("second, longer", step=True)
    p.line("kept")
    p.done()
    text = out.getvalue()
    assert text.startswith("first\r     \rsecond, longer\r")
    assert text.endswith("kept\n") and text.count("\n") == 1
    assert "\x1b" not in text  # no colour, no escape codes


def test_progress_status_line_fits_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A status line wider than the terminal would wrap, and a carriage return could not take it back."""
    monkeypatch.setenv("COLUMNS", "40")
    out = Terminal()
    Progress(out).update("  [ 4/16] crm/opportunity_stage_history: 16,875 rows checked in 0.3 s")
    assert len(out.getvalue()) == 39 and out.getvalue().endswith("…")


def test_dbt_progress_logs_a_line_per_tenth_and_every_failure() -> None:
    out = io.StringIO()
    progress = _DbtProgress(out, "build")
    total = 363
    events = [node_event(i, total, "error" if i == 100 else "success") for i in range(1, total + 1)]
    threads = [threading.Thread(target=lambda chunk=events[k::2]: [progress(e) for e in chunk]) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.finish()
    lines = out.getvalue().splitlines()
    counts = [line for line in lines if re.fullmatch(r"  dbt build: \d+ of 363 nodes done", line)]
    assert len(counts) == 10 and counts[-1] == "  dbt build: 363 of 363 nodes done", lines
    assert "  100 of 363 ERROR x" in lines
    assert lines[0] == "  dbt build: parsing the project"
    assert "\r" not in out.getvalue()


def test_build_log_of_the_sample_shows_progress_plainly(sample) -> None:
    """The session's real build, written to a StringIO (not a terminal): a line per table, dbt's parse and every
    tenth of its nodes, no carriage return, not a line per node."""
    log = sample.build_log
    assert "\r" not in log
    assert re.search(r"^  \[ 1/\d+\] crm/departments: [\d,]+ rows checked in [\d.]+ s$", log, re.MULTILINE), log
    assert re.search(r"^  dbt build: project parsed \(found \d+ models", log, re.MULTILINE), log
    done = re.findall(r"^  dbt build: (\d+) of (\d+) nodes done$", log, re.MULTILINE)
    assert 8 <= len(done) <= 12 and done[-1][0] == done[-1][1], done
    assert not re.search(r"^  \d+ of \d+ (OK|PASS)", log, re.MULTILINE), "a line per node in a log"


# ---- help texts -------------------------------------------------------------------------------------------------

def test_build_help_agrees_with_the_selector() -> None:
    selector = yaml.safe_load((REPO / "selectors.yml").read_text(encoding="utf-8"))["selectors"][0]
    excluded = str(selector["definition"])
    assert "unit_test" in excluded
    text = help_of("build")
    assert "unit tests and the staging not_null/unique tests" in text and "left out" in text
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "and the unit tests, which check the SQL on fixed inputs" in readme


def test_generate_help_states_the_measured_sizes(tmp_path: Path) -> None:
    from closedloop.generate import generate

    truth = generate(tmp_path, scale=1, seed=42)
    counts = truth["row_counts"]
    text = help_of("generate")
    said = {k: int(v.replace(",", "")) for v, k in re.findall(r"~?([\d,]+) (leads|opportunities|touches|rows)", text)}
    assert said["leads"] == counts["leads"]
    assert abs(said["opportunities"] - counts["opportunities"]) / counts["opportunities"] < 0.05
    assert abs(said["touches"] - counts["touches"]) / counts["touches"] < 0.05
    assert abs(said["rows"] - sum(counts.values())) / sum(counts.values()) < 0.05


@pytest.mark.parametrize("command", ["status", "summary", "docs", "validate", "build", "generate"])
def test_every_command_explains_itself(command: str) -> None:
    sub = next(a for a in parser()._actions if a.dest == "command")
    p = sub.choices[command]
    assert p.description and len(p.description) > 80, command
    assert all(a.help for a in p._actions if a.dest != "help"), command


def test_status_says_run_not_runs_for_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    runs.append(warehouse, runs.Run(run_id="b1", started_at="2026-12-07T02:00:00", status="published"))
    print_runs(warehouse)
    assert capsys.readouterr().out.splitlines()[0] == "Last run:"
    runs.append(warehouse, runs.Run(run_id="b2", started_at="2026-12-07T03:00:00", status="failed"))
    print_runs(warehouse)
    assert capsys.readouterr().out.splitlines()[0] == "Last 2 runs (newest last):"


def test_make_demo_settings_are_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for name in ("PORT", "DATA", "SCALE", "SEED"):
        assert re.search(rf"^{name}\s+\?=", makefile, re.MULTILINE), name
        assert f"`{name}`" in readme, name
    assert "--freshness-as-of data" in makefile and "--freshness-as-of data" in readme


# ---- freshness against the data's own end ----------------------------------------------------------------------

def fresh(table: str, latest: datetime | None) -> SourceFreshness:
    return SourceFreshness(source="crm", table=table, status="error", max_loaded_at=latest,
                           checked_at=datetime(2026, 12, 7), age_hours=None, warn_after_days=2.0,
                           error_after_days=7.0)


def test_freshness_judged_against_the_data() -> None:
    rows = [fresh("leads", datetime(2026, 10, 31, 23, 50)), fresh("activities", datetime(2026, 10, 29, 20, 0)),
            fresh("orders", datetime(2026, 10, 20)), fresh("gone", None)]
    said = _judge_against(rows, "data")
    assert "2026-10-31 23:50" in said
    assert [r.status for r in rows] == ["pass", "warn", "error", "error"]  # 0 days, 2.2 days, 11.9 days, unchecked
    assert rows[1].age_hours == pytest.approx(2 * 24 + 3 + 50 / 60)
    assert all(r.checked_at == datetime(2026, 10, 31, 23, 50) for r in rows)
    assert "not at the build's clock" in rows[0].note and rows[3].note is None


def test_freshness_reference_parsing() -> None:
    assert parse_reference(None) is None and parse_reference("now") is None and parse_reference("") is None
    assert parse_reference("data") == "data" and parse_reference(" DATA ") == "data"
    assert parse_reference("2026-10-31") == datetime(2026, 10, 31, 23, 59, 59)
    assert parse_reference("2026-10-31T18:00") == datetime(2026, 10, 31, 18, 0)
    assert parse_reference("2026-10-31T10:00:00+00:00") == datetime(2026, 10, 31, 18, 0)  # into Asia/Shanghai
    for bad in ("yesterday", "2026-13-01", "31/10/2026"):
        with pytest.raises(ConfigError, match="--freshness-as-of"):
            parse_reference(bad)


def test_bad_freshness_reference_is_one_sentence_before_any_work(tmp_path: Path, capsys) -> None:
    from closedloop.cli import main

    code = main(["build", "--raw", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--freshness-as-of", "last tuesday"])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("closedloop build: --freshness-as-of 'last tuesday'") and err[-1] == "\n"
    assert "Traceback" not in err and not out and not (tmp_path / "landing").exists()
