"""A dirtied copy of a raw folder: the same files with about one row in `--rate` broken the ways real exports
break (blank required values, unreadable or ambiguous timestamps, future dates, amounts with separators or
signs, unknown enum values, orphan and repeated keys, quoted newlines that push blocks to the Python reader,
repeated rows), deterministic for a seed. Used to prove the two doors equal on dirty data at scale
(`bench/door_equality.py`) and, at scale 1, in tests/test_door_equality.py.

    .venv/bin/python bench/dirty.py RAW OUT [--rate 0.01] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

TIMESTAMPS = ["2026-02-30 10:00:00", "01/03/2026", "2026-01-05 10:00:00 CST", "2026-01-05 10:00:00 XYZ",
              "0001-01-01 00:00:00", "2099-01-01 00:00:00", "2026-03-01T09:30:00+08:00", "2026-03-01 09:30 UTC",
              "2026-03-01T01:30:00Z", "not a date", "2026-03-01 25:00:00"]
DATES = ["2026-02-30", "2099-12-31", "2026/13/01", "20260301", "2026-03-01T23:30:00Z", "0001-01-01"]
AMOUNTS = ["1,200", "¥12", "-5", "1e5", "12.345", "-0.01", " 80000.5 ", "abc"]
INTEGERS = ["1.5", "-3", "7", "1e3", "十", "9"]
BOOLEANS = ["maybe", "是", "否", "TRUE", "0", "yes", "2"]
ENUMS = ["bogus", " WON ", "Email", "", "未知"]
TEXT = ["line one\nline two", 'a "quoted" value', "  padded  ", "", "=HYPERLINK(\"x\")"]


def _bad(column: str, value: str, rng: random.Random, seen: dict[str, list[str]]) -> str:
    name = column.lower()
    if name.endswith("_at"):
        return rng.choice(TIMESTAMPS)
    if name.endswith("_date") or name in ("subscription_start", "subscription_end"):
        return rng.choice(DATES)
    if name in ("amount", "spend", "budget", "price", "cost") or name.endswith("_amount"):
        return rng.choice(AMOUNTS)
    if name in ("impressions", "clicks", "csat", "duration_minutes"):
        return rng.choice(INTEGERS)
    if name.startswith("is_"):
        return rng.choice(BOOLEANS)
    if name.endswith("_id"):
        earlier = seen.get(column)
        # An orphan reference, a repeated key, or none at all.
        return rng.choice([f"ZZ{rng.randint(1, 10**6)}", rng.choice(earlier) if earlier else "", ""])
    if name in ("status", "stage", "channel", "type", "role", "event_type", "entity_type", "activity_type",
                "touch_type", "content_type", "opportunity_type", "order_type", "contact_role"):
        return rng.choice(ENUMS)
    return rng.choice(TEXT)


def dirty_file(source: Path, target: Path, rate: float, rng: random.Random) -> int:
    """Copy one CSV, breaking about `rate` of its rows and repeating about `rate / 2` of them; rows broken."""
    broken = 0
    with source.open(newline="", encoding="utf-8-sig") as fin, target.open("w", newline="", encoding="utf-8") as fout:
        reader, writer = csv.reader(fin), csv.writer(fout, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        seen: dict[str, list[str]] = {}
        for row in reader:
            if rng.random() < rate:
                i = rng.randrange(len(header))
                row = list(row)
                row[i] = _bad(header[i], row[i], rng, seen)
                broken += 1
            if rng.random() < 0.01:
                for i, column in enumerate(header):
                    if column.endswith("_id") and i < len(row):
                        seen.setdefault(column, []).append(row[i])
            writer.writerow(row)
            if rng.random() < rate / 2:
                writer.writerow(row)
                broken += 1
    return broken


def dirty(raw: Path, out: Path, rate: float = 0.01, seed: int = 7) -> int:
    rng = random.Random(seed)
    shutil.rmtree(out, ignore_errors=True)
    broken = 0
    for path in sorted(raw.rglob("*")):
        target = out / path.relative_to(raw)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.suffix == ".csv":
            target.parent.mkdir(parents=True, exist_ok=True)
            broken += dirty_file(path, target, rate, rng)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{dirty(args.raw, args.out, args.rate, args.seed):,} rows broken or repeated")


if __name__ == "__main__":
    main()
