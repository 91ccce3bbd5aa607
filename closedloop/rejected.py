"""Write the rows set aside by validation to a file a data engineer can open (CSV or Excel), formula-safe."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from closedloop.landing import REJECTED
from closedloop.spreadsheet import csv_bytes, xlsx_bytes


def write_rejected(landing_dir: Path, target: Path) -> Path:
    frame = pd.read_parquet(landing_dir / REJECTED)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = xlsx_bytes([("rejected", frame)]) if target.suffix.lower() == ".xlsx" else csv_bytes(frame)
    target.write_bytes(data)
    return target
