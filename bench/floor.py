"""The floor: the least any build of a raw folder can cost (a benchmark reference, not a test).

DuckDB reads every raw file once, every column touched (the sum of every value's length, so no column is skipped
by projection pushdown), all tables in one process on all cores. Nothing is validated, typed or written: a build
that does more than read its input cannot be faster than this.

    .venv/bin/python bench/floor.py --raw RAW_DIR [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def table_files(raw: Path) -> dict[str, list[Path]]:
    """Every contract table's files in the raw folder, found as a build finds them."""
    from closedloop import contract, sources

    return {t.key: files for t in contract.tables() if (files := sources.discover(raw, t))}


def read_all(raw: Path) -> dict[str, int]:
    """Rows per table, reading every file once with every column touched."""
    import duckdb

    from closedloop.sql import ident, literal_list

    con = duckdb.connect()
    rows = {}
    try:
        for key, files in table_files(raw).items():
            names = literal_list(files)  # a Python repr is not a SQL literal (a quote in a path)
            if files[0].suffix == ".parquet":
                source = f"read_parquet({names}, union_by_name = true)"
            else:
                source = f"read_csv({names}, all_varchar = true, union_by_name = true, header = true)"
            columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()]
            touched = " + ".join(f"coalesce(length({ident(c)}), 0)" for c in columns)
            rows[key], _ = con.execute(f"select count(*), sum({touched}) from {source}").fetchone()
    finally:
        con.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True, type=Path, help="raw export folder (crm/, campaign/, service/)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    rows = read_all(args.raw)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(rows.values())
    if args.json:
        print(json.dumps({"seconds": round(seconds, 2), "rows": total, "tables": rows, "peak_mb": round(peak_mb)}))
    else:
        print(f"read {total:,} rows of {len(rows)} tables in {seconds:.2f} s ({total / seconds:,.0f} rows/s), "
              f"peak {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
