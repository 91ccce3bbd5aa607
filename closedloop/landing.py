"""Land a raw export folder as one Parquet file per contract table, the files dbt's sources read.

Landing is where exports in any accepted shape (part files, CSV or Parquet, UTF-8 or GBK) become one
uniform table each: every contract column present (absent optional ones as nulls, so a thinner export
still builds), extra columns kept, nothing typed yet (staging types). Absent tables land empty.
"""

from __future__ import annotations

import codecs
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from closedloop import contract

MANIFEST = "_manifest.json"
_EXTENSIONS = ("csv", "parquet")


class LandingError(Exception):
    """A table-level problem that stops the build (missing required table or column, unreadable file)."""


@dataclass
class TableReport:
    table: str
    files: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | absent
    rows_read: int = 0
    rows_loaded: int = 0
    extra_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)


def discover(raw_dir: Path, table: contract.Table) -> list[Path]:
    """Files of one table: `leads.csv`, `leads_2026-11-01.csv`, `leads_0001.parquet` … in its family folder."""
    folder = raw_dir / table.family
    if not folder.is_dir():
        return []
    siblings = [t.name for t in contract.tables() if t.family == table.family and t.name != table.name]
    pattern = re.compile(rf"^{re.escape(table.name)}(?:[_\-.].*)?\.({'|'.join(_EXTENSIONS)})$", re.IGNORECASE)
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not pattern.match(path.name):
            continue
        # `campaigns*` must not swallow a sibling table whose name extends it.
        if any(path.name.lower().startswith(s.lower()) and len(s) > len(table.name) for s in siblings):
            continue
        found.append(path)
    return found


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _as_utf8(path: Path, tmp: Path) -> Path:
    """GBK/GB18030 exports (Excel in China) are re-encoded to UTF-8 for DuckDB's reader."""
    if _is_utf8(path):
        return path
    target = tmp / f"{len(list(tmp.iterdir()))}_{path.name}"
    with path.open("r", encoding="gb18030", newline="") as src, target.open("w", encoding="utf-8", newline="") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _source_sql(files: list[Path], tmp: Path) -> str:
    csvs = [_as_utf8(p, tmp) for p in files if p.suffix.lower() == ".csv"]
    parquets = [p for p in files if p.suffix.lower() == ".parquet"]
    parts = []
    if csvs:
        parts.append(
            f"select * from read_csv({_sql_list(csvs)}, header = true, all_varchar = true, "
            "union_by_name = true, quote = '\"', escape = '\"', strict_mode = false, null_padding = false)"
        )
    if parquets:
        parts.append(f"select * from read_parquet({_sql_list(parquets)}, union_by_name = true)")
    return " union all by name ".join(parts)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def land_table(con: duckdb.DuckDBPyConnection, raw_dir: Path, landing_dir: Path, table: contract.Table,
               tmp: Path) -> TableReport:
    report = TableReport(table=table.key)
    files = discover(raw_dir, table)
    report.files = [str(p.relative_to(raw_dir)) for p in files]
    target = landing_dir / table.family / f"{table.name}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not files:
        if table.required:
            raise LandingError(f"{raw_dir / table.family}: required table `{table.name}` has no file "
                               f"(expected {table.name}.csv, {table.name}_*.csv or .parquet).")
        report.status = "absent"
        cols = ", ".join(f"cast(null as varchar) as {_quote(c)}" for c in table.column_names)
        con.execute(f"copy (select {cols} limit 0) to '{target}' (format parquet)")
        return report
    try:
        source = _source_sql(files, tmp)
        present = [r[0] for r in con.execute(f"describe {source}").fetchall()]
    except duckdb.Error as exc:
        raise LandingError(f"{', '.join(report.files)}: cannot be read as table `{table.key}`: {exc}") from exc
    lower = {c.lower().strip(): c for c in present}
    missing_required = [c for c in table.required_columns if c not in lower]
    if missing_required:
        raise LandingError(f"{', '.join(report.files)}: required column(s) {', '.join(missing_required)} "
                           f"missing from table `{table.key}` (columns found: {', '.join(present)}).")
    select = []
    for c in table.columns:
        if c.name in lower:
            select.append(f"{_quote(lower[c.name])} as {_quote(c.name)}")
        else:
            report.missing_optional_columns.append(c.name)
            select.append(f"cast(null as varchar) as {_quote(c.name)}")
    report.extra_columns = [c for c in present if c.lower().strip() not in set(table.column_names)]
    select += [_quote(c) for c in report.extra_columns]
    partial = target.with_suffix(".parquet.partial")
    try:
        con.execute(f"copy (select {', '.join(select)} from ({source})) to '{partial}' (format parquet)")
    except duckdb.Error as exc:
        raise LandingError(f"{', '.join(report.files)}: failed while reading table `{table.key}`: {exc}") from exc
    partial.replace(target)
    report.rows_read = report.rows_loaded = con.execute(
        f"select count(*) from read_parquet('{target}')").fetchall()[0][0]
    return report


def land(raw_dir: str | Path, landing_dir: str | Path) -> list[TableReport]:
    """Land every contract table; write `_manifest.json` with rows read and loaded per table."""
    raw_dir, landing_dir = Path(raw_dir), Path(landing_dir)
    if not raw_dir.is_dir():
        raise LandingError(f"{raw_dir}: raw folder does not exist.")
    landing_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    reports = []
    with tempfile.TemporaryDirectory(prefix="closedloop-land-") as tmp:
        for table in contract.tables():
            reports.append(land_table(con, raw_dir, landing_dir, table, Path(tmp)))
    con.close()
    (landing_dir / MANIFEST).write_text(
        json.dumps({"raw_dir": str(raw_dir.resolve()), "tables": [asdict(r) for r in reports]},
                   ensure_ascii=False, indent=2), encoding="utf-8")
    return reports
