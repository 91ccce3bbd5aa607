"""The door's cache of row checks by raw file (closedloop/door_cache.py): a landing that reuses it is identical to one
that checks every file again (landed Parquet, rows set aside, load report, manifest: tests/independent/doors.py),
whatever changed in between — files added, a file's bytes changed behind an unchanged name, size and time, the clock
moved past a row dated in the future, an entry damaged — and it reads only what it must."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from corpus.defects import write_defects
from independent.doors import NOW, differences

from closedloop import landing, validate


def _land(raw: Path, target: Path, cache: Path | None, now: dt.datetime = NOW, reuse: bool = True) -> tuple[int, int]:
    """Land `raw` into `target` (with the cache folder `cache`, if any); (files reused, files in all)."""
    out = io.StringIO()
    validator = validate.Validator(now=now)
    try:
        landing.land(raw, target, out=out, validator=validator, cache_dir=cache, reuse=reuse)
    finally:
        validator.close()
    found = re.search(r"Door cache: ([\d,]+) of ([\d,]+) raw files", out.getvalue())
    if cache is None:
        assert found is None
        return 0, 0
    assert found, out.getvalue()
    return int(found[1].replace(",", "")), int(found[2].replace(",", ""))


def _same_as_checking_everything(raw: Path, tmp_path: Path, cache: Path, name: str,
                                 now: dt.datetime = NOW) -> tuple[int, int]:
    reused = _land(raw, tmp_path / f"{name}-cached", cache, now)
    _land(raw, tmp_path / f"{name}-all", None, now)
    assert differences(tmp_path / f"{name}-all", tmp_path / f"{name}-cached") == []
    return reused


def _add_rows(raw: Path, table: str, file_name: str, rows: list[dict]) -> None:
    """A new part file of `table` (`crm/leads`), its columns those of the table's first file, each row the first
    file's first row with `rows`' values put over it."""
    first = sorted((raw / table).parent.glob(f"{Path(table).name}*.csv"))[0]
    with first.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        template = next(reader)
    with (first.parent / file_name).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(template))
        writer.writeheader()
        for row in rows:
            writer.writerow({**template, **row})


@pytest.fixture
def raw(sample, tmp_path: Path) -> Path:
    shutil.copytree(sample.raw, tmp_path / "raw")
    return tmp_path / "raw"


def test_new_files_reuse_the_old_ones_and_land_as_a_full_check(raw: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "first")
    assert reused == 0 and files > 10
    # Nothing changed: every file's answer is reused.
    assert _same_as_checking_everything(raw, tmp_path, cache, "again") == (files, files)
    # A lead event whose lead is not exported yet (set aside as an orphan) ...
    _add_rows(raw, "crm/lead_events", "lead_events_0002.csv",
              [{"lead_id": "L99999999", "event_at": "2026-10-30T09:00:00"}])
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "orphan")
    rejected = landing.pq.read_table(tmp_path / "orphan-cached" / landing.REJECTED).to_pylist()
    assert {(r["file"], r["rule"]) for r in rejected if r["value"] == "L99999999"} == {
        ("crm/lead_events_0002.csv", "foreign_key")}
    # ... whose lead arrives the next day, with a newer version of an old lead: the cached event lands now, and the
    # old lead's row (in a file not read again) is set aside as the older duplicate.
    _add_rows(raw, "crm/leads", "leads_0002.csv", [{"lead_id": "L99999999", "created_at": "2026-10-29T09:00:00"},
                                                   {"lead_id": "L00000001", "region": "华北"}])
    before = reused
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "parent")
    assert reused == files - 1 and reused > before
    rejected = landing.pq.read_table(tmp_path / "parent-cached" / landing.REJECTED).to_pylist()
    assert not [r for r in rejected if r["value"] == "L99999999"]
    assert ("crm/leads_0001.csv", "duplicate_key") in {(r["file"], r["rule"]) for r in rejected
                                                      if r["value"] == "L00000001"}
    # A removed file takes its rows with it, and its entry goes at the next landing.
    (raw / "crm" / "leads_0002.csv").unlink()
    entries = len(list(cache.iterdir()))
    _same_as_checking_everything(raw, tmp_path, cache, "removed")
    assert len(list(cache.iterdir())) == entries - 1


def test_a_file_changed_behind_the_same_name_size_and_time_is_checked_again(tmp_path: Path) -> None:
    write_defects(tmp_path / "raw")
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    _land(raw, tmp_path / "first", cache)
    path = next(p for p in sorted((raw / "crm").glob("leads*.csv")))
    text = path.read_bytes()
    stat = path.stat()
    digit = re.search(rb"L0*(\d)", text)
    assert digit
    swapped = text[:digit.start(1)] + (b"7" if digit[1] != b"7" else b"8") + text[digit.end(1):]
    path.write_bytes(swapped)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "changed")
    assert reused == files - 1


def test_a_later_clock_checks_again_only_files_with_rows_in_the_future(raw: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _add_rows(raw, "crm/leads", "leads_0002.csv", [{"lead_id": "L99999990", "created_at": "2027-03-01T09:00:00"}])
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "now")
    rejected = landing.pq.read_table(tmp_path / "now-cached" / landing.REJECTED).to_pylist()
    assert [r["rule"] for r in rejected if r["file"] == "crm/leads_0002.csv"] == ["future_date"]
    # Half a year on, the row is no longer in the future: its file is read again (and the row lands); every other
    # file's rows passed under the earlier bound and pass under the later one.
    later = NOW + dt.timedelta(days=180)
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "later", now=later)
    assert reused == files - 1
    rejected = landing.pq.read_table(tmp_path / "later-cached" / landing.REJECTED).to_pylist()
    assert not [r for r in rejected if r["file"] == "crm/leads_0002.csv"]
    # A clock set back before every entry's trusts none of them.
    assert _land(raw, tmp_path / "earlier", cache, now=NOW - dt.timedelta(days=30))[0] == 0


def test_damaged_entries_and_a_full_refresh_read_the_files_again(tmp_path: Path) -> None:
    write_defects(tmp_path / "raw")
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    _land(raw, tmp_path / "first", cache)
    entries = sorted(e for e in cache.iterdir() if (e / "part-00000.parquet").exists())
    assert len(entries) > 4
    (entries[0] / "part-00000.parquet").unlink()
    (entries[1] / "entry.json").write_text("{not json", encoding="utf-8")
    (entries[2] / "rejected.parquet").write_bytes(b"PAR1 garbage")
    data = json.loads((entries[3] / "entry.json").read_text(encoding="utf-8"))
    data["rejected"] += 1  # the answer's rows set aside do not add up
    (entries[3] / "entry.json").write_text(json.dumps(data), encoding="utf-8")
    data = json.loads((entries[4] / "entry.json").read_text(encoding="utf-8"))
    data["parts"] = ["../" + entries[0].name + "/rejected.parquet"]  # never a way to link another file in
    (entries[4] / "entry.json").write_text(json.dumps(data), encoding="utf-8")
    reused, files = _same_as_checking_everything(raw, tmp_path, cache, "damaged")
    assert reused == files - 5
    # A full refresh reads every file (and keeps its answers for the next build).
    assert _land(raw, tmp_path / "full", cache, reuse=False) == (0, files)
    assert _land(raw, tmp_path / "after", cache)[0] == files
