"""Reading a raw export folder the way docs/input-contract.md describes it, with pandas only.

A table is every file `<name>.csv`, `<name>_<anything>.csv` (or .parquet) in its family folder, read together.
CSV may be UTF-8, UTF-8 with BOM or GBK/GB18030. Values are trimmed, empty means missing. Timestamps are ISO
8601: without an offset they already are business time (Asia/Shanghai); with one (Z, +08:00, -0500) they are
converted to business local time. Amounts are kept as integer cents so sums compare exactly.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

BUSINESS_TZ = "Asia/Shanghai"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

# The contract's tables per family (docs/input-contract.md), to tell `campaigns_*.csv` from a longer sibling.
TABLES = {
    "crm": ["departments", "users", "accounts", "contacts", "leads", "lead_events", "ownership_events",
            "opportunities", "opportunity_stage_history", "activities"],
    "campaign": ["campaigns", "campaign_spend", "contents", "touches"],
    "service": ["orders", "tickets"],
}

# An offset is only an offset after a time of day: "2026-01-05" ends in "-05" but is a plain date.
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_TRUE = {"true", "t", "1", "yes", "y", "是"}
_FALSE = {"false", "f", "0", "no", "n", "否"}


def _files_of(folder: Path, family: str, name: str) -> list[Path]:
    if not folder.is_dir():
        return []
    mine = re.compile(rf"^{re.escape(name)}(?:[_\-.].*)?\.(?:csv|parquet)$", re.IGNORECASE)
    longer = [t for t in TABLES[family] if t != name and t.lower().startswith(name.lower())]
    files = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not mine.match(path.name):
            continue
        if any(re.match(rf"^{re.escape(t)}(?:[_\-.].*)?\.(?:csv|parquet)$", path.name, re.IGNORECASE)
               for t in longer):
            continue
        files.append(path)
    return files


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _read_one(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
        frame = frame.astype(object).where(frame.notna(), None)
        frame = frame.map(lambda v: None if v is None else str(v))
    else:
        frame = pd.read_csv(io.StringIO(_decode(path)), dtype=str, keep_default_na=False, na_filter=False,
                            quoting=csv.QUOTE_MINIMAL)
    frame.columns = [str(c).replace("\ufeff", "").strip().lower() for c in frame.columns]
    return frame


def text(values: pd.Series) -> pd.Series:
    """Trimmed text; empty is missing."""
    s = values.astype("string").str.strip()
    return s.mask(s == "")


def enum(values: pd.Series) -> pd.Series:
    return text(values).str.lower()


def timestamps(values: pd.Series) -> pd.Series:
    """Business-local naive timestamps (see module docstring)."""
    s = text(values)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    present = s.notna()
    aware = present & s.str.contains(_OFFSET).fillna(False).astype(bool)
    naive = present & ~aware
    if naive.any():
        out[naive] = pd.to_datetime(s[naive], format="ISO8601").astype("datetime64[us]")
    if aware.any():
        local = pd.to_datetime(s[aware], format="ISO8601", utc=True).dt.tz_convert(BUSINESS_TZ).dt.tz_localize(None)
        out[aware] = local.astype("datetime64[us]")
    return out


def dates(values: pd.Series) -> pd.Series:
    """Calendar dates as midnight timestamps (the day of the business-local time when a time is given)."""
    return timestamps(values).dt.normalize()


def cents(values: pd.Series) -> pd.Series:
    """Amounts as integer cents (nullable), so totals are exact."""
    numbers = pd.to_numeric(text(values), errors="raise")
    return (numbers * 100).round().astype("Int64")


def booleans(values: pd.Series) -> pd.Series:
    s = text(values).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[s.isin(_TRUE).fillna(False).astype(bool)] = True
    out[s.isin(_FALSE).fillna(False).astype(bool)] = False
    return out


def month_start(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").dt.start_time.astype("datetime64[us]")


class Raw:
    """One raw export folder; each table read once, all columns as trimmed text (missing = NA)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, pd.DataFrame] = {}

    def files(self, key: str) -> list[Path]:
        family, name = key.split("/")
        return _files_of(self.root / family, family, name)

    def table(self, key: str, columns: list[str]) -> pd.DataFrame:
        """All part files of `family/name` read together; `columns` are guaranteed to exist (absent = NA)."""
        if key not in self._cache:
            parts = [_read_one(p) for p in self.files(key)]
            frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
            for c in frame.columns:
                frame[c] = text(frame[c])
            self._cache[key] = frame
        frame = self._cache[key].copy()
        for c in columns:
            if c not in frame.columns:
                frame[c] = pd.Series(pd.NA, index=frame.index, dtype="string")
        return frame[columns]

    # ---- seeds (the configuration the input contract says lives there, read as a user would edit them) ----
    @cached_property
    def stages(self) -> pd.DataFrame:
        s = pd.read_csv(SEEDS / "stages.csv", dtype=str, keep_default_na=False)
        s["stage_order"] = s["stage_order"].astype(int)
        s["is_closed"] = s["is_closed"].str.lower().eq("true")
        s["is_won"] = s["is_won"].str.lower().eq("true")
        return s.sort_values("stage_order").reset_index(drop=True)

    # ---- typed tables used by several metrics ----
    @cached_property
    def users(self) -> pd.DataFrame:
        u = self.table("crm/users", ["user_id", "user_name", "department_id", "role", "hired_at", "left_at"])
        u["role"] = enum(u["role"])
        u["hired_at"] = timestamps(u["hired_at"])
        u["left_at"] = timestamps(u["left_at"])
        return u.drop_duplicates("user_id").reset_index(drop=True)

    @cached_property
    def leads(self) -> pd.DataFrame:
        cols = ["lead_id", "created_at", "channel", "status", "campaign_id", "owner_user_id", "converted_at",
                "converted_account_id", "converted_opportunity_id", "disqualify_reason", "referrer_account_id"]
        d = self.table("crm/leads", cols)
        d["created_at"] = timestamps(d["created_at"])
        d["converted_at"] = timestamps(d["converted_at"])
        d["status"] = enum(d["status"])
        return d

    @cached_property
    def lead_events(self) -> pd.DataFrame:
        d = self.table("crm/lead_events", ["lead_id", "event_at", "event_type", "user_id", "reason"])
        d["event_at"] = timestamps(d["event_at"])
        d["event_type"] = enum(d["event_type"])
        return d

    @cached_property
    def ownership_events(self) -> pd.DataFrame:
        d = self.table("crm/ownership_events", ["entity_type", "entity_id", "event_at", "event_type", "user_id",
                                                "reason"])
        d["entity_type"] = enum(d["entity_type"])
        d["event_type"] = enum(d["event_type"])
        d["event_at"] = timestamps(d["event_at"])
        d["row_number"] = np.arange(len(d))  # export order, the only tie-break a log without ids has
        return d

    @cached_property
    def activities(self) -> pd.DataFrame:
        d = self.table("crm/activities", ["activity_id", "activity_at", "user_id", "activity_type", "lead_id",
                                          "account_id", "opportunity_id"])
        d["activity_at"] = timestamps(d["activity_at"])
        d["activity_type"] = enum(d["activity_type"])
        return d

    @cached_property
    def opportunities(self) -> pd.DataFrame:
        d = self.table("crm/opportunities", ["opportunity_id", "account_id", "owner_user_id", "created_at", "amount",
                                             "opportunity_type", "stage", "is_closed", "is_won", "source_lead_id",
                                             "close_date"])
        d["created_at"] = timestamps(d["created_at"])
        d["amount_cents"] = cents(d["amount"])
        d["opportunity_type"] = enum(d["opportunity_type"])
        d["is_closed"] = booleans(d["is_closed"])
        d["is_won"] = booleans(d["is_won"])
        d["close_date"] = dates(d["close_date"])
        return d

    @cached_property
    def stage_history(self) -> pd.DataFrame:
        d = self.table("crm/opportunity_stage_history", ["opportunity_id", "stage", "entered_at", "owner_user_id",
                                                          "amount"])
        d["entered_at"] = timestamps(d["entered_at"])
        d["row_number"] = np.arange(len(d))
        return d

    @cached_property
    def accounts(self) -> pd.DataFrame:
        d = self.table("crm/accounts", ["account_id", "account_name", "created_at", "grade", "owner_user_id",
                                        "source_lead_id", "referred_by_account_id"])
        d["created_at"] = timestamps(d["created_at"])
        return d

    @cached_property
    def orders(self) -> pd.DataFrame:
        d = self.table("service/orders", ["order_id", "account_id", "order_date", "amount", "order_type",
                                          "opportunity_id", "subscription_start", "subscription_end"])
        d["order_date"] = dates(d["order_date"])
        d["amount_cents"] = cents(d["amount"])
        d["order_type"] = enum(d["order_type"])
        d["subscription_start"] = dates(d["subscription_start"])
        d["subscription_end"] = dates(d["subscription_end"])
        return d

    @cached_property
    def tickets(self) -> pd.DataFrame:
        d = self.table("service/tickets", ["ticket_id", "account_id", "opened_at", "resolved_at"])
        d["opened_at"] = timestamps(d["opened_at"])
        d["resolved_at"] = timestamps(d["resolved_at"])
        return d

    @cached_property
    def touches(self) -> pd.DataFrame:
        d = self.table("campaign/touches", ["touch_id", "touched_at", "channel", "campaign_id", "lead_id"])
        d["touched_at"] = timestamps(d["touched_at"])
        return d

    @cached_property
    def campaigns(self) -> pd.DataFrame:
        return self.table("campaign/campaigns", ["campaign_id", "campaign_name", "channel", "department_id"])

    @cached_property
    def campaign_spend(self) -> pd.DataFrame:
        d = self.table("campaign/campaign_spend", ["campaign_id", "spend_date", "spend"])
        d["spend_date"] = dates(d["spend_date"])
        d["spend_cents"] = cents(d["spend"])
        return d

    @cached_property
    def as_of(self) -> pd.Timestamp:
        """"Now" for every to-date figure: the latest moment anything happened in the export (not the day the test
        runs). Event logs, creation times, orders and tickets count; planned dates (an open deal's close_date, a
        subscription's end) are not events and do not."""
        candidates = [
            self.leads["created_at"], self.lead_events["event_at"], self.ownership_events["event_at"],
            self.opportunities["created_at"], self.stage_history["entered_at"], self.activities["activity_at"],
            self.touches["touched_at"], self.orders["order_date"], self.tickets["opened_at"],
            self.tickets["resolved_at"],
        ]
        return max(c.max() for c in candidates if c.notna().any())
