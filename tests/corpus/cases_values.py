"""Corpus cases for the value rules (issue 13): time zones, implausible dates, plain numbers and their precision.

Each case changes the minimal export as the cases in cases.py do; the rules are the `*_issue` / typing macros of
macros/staging.sql, the same ones landing types the values with (docs/validation.md, "Rules").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from corpus.cases import (
                          MINIMAL_OPPS,
                          OPPS,
                          OPPS_HEADER,
                          Case,
                          append,
                          both,
                          counts,
                          csv_text,
                          opp,
                          opps_with,
                          parquet,
                          write,
                          xlsx,
)

LEADS = "crm/leads.csv"
LEADS_HEADER = ["lead_id", "created_at", "channel", "status"]
SPEND = "campaign/campaign_spend.csv"
CAMPAIGNS = write("campaign/campaigns.csv", csv_text(["campaign_id", "campaign_name", "channel"],
                                                     [["C1", "春季直播", "直播"]]))
_MINIMAL_CREATED = [dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 2, 10, 9, 30), dt.datetime(2026, 3, 1, 8)]

# Zones that resolve one way only; every one is converted to Shanghai business time (UTC+8, no DST).
_ZONES = [
    ("2026-01-05 10:00:00 UTC", dt.datetime(2026, 1, 5, 18)),
    ("2026-01-05 10:00:00 GMT", dt.datetime(2026, 1, 5, 18)),
    ("2026-01-05T10:00:00Z", dt.datetime(2026, 1, 5, 18)),
    ("2026-01-05 10:00:00 +0800", dt.datetime(2026, 1, 5, 10)),
    ("2026-01-05 10:00:00 GMT+8", dt.datetime(2026, 1, 5, 10)),
    ("2026-01-05T10:00:00 UTC-05:00", dt.datetime(2026, 1, 5, 23)),
    ("2026-01-05 10:00:00 America/New_York", dt.datetime(2026, 1, 5, 23)),  # EST, UTC-5
    ("2026-07-06 10:00:00 America/New_York", dt.datetime(2026, 7, 6, 22)),  # EDT, UTC-4
    ("2026-01-05 10:00:00 Europe/Berlin", dt.datetime(2026, 1, 5, 17)),
    ("2026-01-05 10:00:00 Asia/Shanghai", dt.datetime(2026, 1, 5, 10)),
    ("2026-01-05 10:00 JST", dt.datetime(2026, 1, 5, 9)),
]

CASES_VALUES = [
    Case("timezone_names_converted", "created_at with its zone named: `… UTC`, `… GMT`, `…Z`, `… +0800`, `… GMT+8`, "
         "`… UTC-05:00`, `… America/New_York` in January and in July (DST), `… Europe/Berlin`, `… Asia/Shanghai`, "
         "`… JST`: each converted to business time",
         append(OPPS, *[opp(f"Z{i}", created=value) for i, (value, _) in enumerate(_ZONES)]),
         counts=counts(opportunities=(3 + len(_ZONES), 3 + len(_ZONES), 0)),
         landed={("crm/opportunities", "created_at"): _MINIMAL_CREATED + [local for _, local in _ZONES]}),
    Case("timezone_ambiguous", "created_at `… CST`, `… IST`, `… BST`, `… pst`, `… Etc/GMT+8` (each has several "
         "meanings; CST loads as China time only with var timezone_abbreviations)",
         append(OPPS, opp("O4", created="2026-01-05 10:00:00 CST"), opp("O5", created="2026-01-05 10:00:00 IST"),
                opp("O6", created="2026-01-05T10:00:00 BST"), opp("O7", created="2026-01-05 10:00 pst"),
                opp("O8", created="2026-01-05 10:00:00 Etc/GMT+8")),
         counts=counts(opportunities=(8, 3, 5)),
         rejected=tuple((OPPS, r, "created_at", "ambiguous_timezone") for r in range(5, 10)),
         messages=(r"CST may be China Standard Time \(UTC\+08:00\), US Central Standard Time \(UTC-06:00\) or Cuba",
                   r"IST may be India Standard Time", r"Etc/GMT\+8 means UTC-8")),
    Case("timezone_unknown", "created_at `… Mars/Olympus`, `… XYZ`, `… +25:00`; a close_date `2026-02-01 ABC`",
         both(opps_with(["close_date"], *[r + [""] for r in MINIMAL_OPPS],
                        opp("O4", created="2026-01-05 10:00:00 Mars/Olympus") + [""],
                        opp("O5", created="2026-01-05 10:00:00 XYZ") + [""],
                        opp("O6", created="2026-01-05 10:00:00 +25:00") + [""],
                        opp("O7") + ["2026-02-01 ABC"])),
         counts=counts(opportunities=(7, 3, 4)),
         rejected=((OPPS, 5, "created_at", "unknown_timezone"), (OPPS, 6, "created_at", "unknown_timezone"),
                   (OPPS, 7, "created_at", "unknown_timezone"), (OPPS, 8, "close_date", "unknown_timezone")),
         messages=(r"`Mars/Olympus` is not a UTC offset", r"`\+25:00` is not a UTC offset")),
    Case("implausible_dates", "leads created `0001-01-01`, `10000-01-01`, `-0001-01-01`, `1899-12-31` (two of "
         "them made the build run for minutes through date spines); `2100-12-31` is the last plausible day",
         write(LEADS, csv_text(LEADS_HEADER, [
             ["L1", "2026-01-05", "官网", "new"], ["L2", "0001-01-01", "官网", "new"],
             ["L3", "10000-01-01", "官网", "new"], ["L4", "-0001-01-01", "官网", "new"],
             ["L5", "1899-12-31 23:59:59", "官网", "new"], ["L6", "1900-01-01", "官网", "new"]])),
         counts=counts(leads=(6, 2, 4)),
         rejected=tuple((LEADS, r, "created_at", "implausible_date") for r in (3, 4, 5, 6)),
         messages=(r"date is not plausible: outside 1900-01-01 to 2100-12-31",),
         landed={("crm/leads", "lead_id"): ["L1", "L6"]}),
    Case("implausible_planned_date", "close_date (a planned date, may lie ahead) `2150-06-30` and `2100-12-31`",
         opps_with(["close_date"], *[r + [""] for r in MINIMAL_OPPS], opp("O4") + ["2150-06-30"],
                   opp("O5") + ["2100-12-31"]),
         counts=counts(opportunities=(5, 4, 1)), rejected=((OPPS, 5, "close_date", "implausible_date"),),
         landed={("crm/opportunities", "close_date"): [None, None, None, dt.date(2100, 12, 31)]}),
    Case("numbers_not_plain", "amount `1e5`, `1_000`, `NaN`, `0x10` (not plain decimals) and `12.345` (3 decimals "
         "into a 2-decimal amount); `12.340`, `+5`, `.5` load",
         append(OPPS, opp("O4", amount="1e5"), opp("O5", amount="1_000"), opp("O6", amount="NaN"),
                opp("O7", amount="0x10"), opp("O8", amount="12.345"), opp("O9", amount="12.340"),
                opp("O10", amount="+5"), opp("O11", amount=".5")),
         counts=counts(opportunities=(11, 6, 5)),
         rejected=((OPPS, 5, "amount", "type_number"), (OPPS, 6, "amount", "type_number"),
                   (OPPS, 7, "amount", "type_number"), (OPPS, 8, "amount", "type_number"),
                   (OPPS, 9, "amount", "precision")),
         messages=(r"no thousands separators, currency signs, exponent or underscores",
                   r"more decimals than the column keeps: has 3 decimals; amounts are "
                   r"stored to 2 and never rounded"),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50"), D("12.34"),
                                                   D("5.00"), D("0.50")]}),
    Case("whole_numbers", "campaign spend impressions `1.0` and ` 12 ` (load as 1 and 12), `1e3`, `1_000`, `1.5` "
         "(not whole numbers, never rounded); `987654321098765432` keeps every digit",
         both(CAMPAIGNS, write(SPEND, csv_text(["campaign_id", "spend_date", "spend", "impressions"], [
             ["C1", "2026-01-01", "1", "1.0"], ["C1", "2026-01-02", "1", " 12 "], ["C1", "2026-01-03", "1", "1e3"],
             ["C1", "2026-01-04", "1", "1_000"], ["C1", "2026-01-05", "1", "1.5"],
             ["C1", "2026-01-06", "1", "987654321098765432"]]))),
         counts=counts(campaigns=(1, 1, 0), campaign_spend=(6, 3, 3)),
         rejected=tuple((SPEND, r, "impressions", "type_integer") for r in (4, 5, 6)),
         messages=(r"not a whole number",),
         landed={("campaign/campaign_spend", "impressions"): [1, 12, 987654321098765432]}),
    Case("xlsx_float_decimals", "crm/opportunities_2026-05.xlsx: number cells 12.345 (set aside, not rounded), "
         "0.1+0.2 (Excel shows 0.3: loads as 0.30) and 1200.5",
         xlsx("crm/opportunities_2026-05.xlsx", OPPS_HEADER, [
             ["O4", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 12.345, "new", "赢单", True, True],
             ["O5", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 0.1 + 0.2, "new", "赢单", True, True],
             ["O6", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 1200.5, "new", "赢单", True, True]]),
         counts=counts(opportunities=(6, 5, 1)),
         rejected=(("crm/opportunities_2026-05.xlsx", 2, "amount", "precision"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50"), D("0.30"),
                                                   D("1200.50")]}),
    Case("parquet_values", "crm/opportunities_2026-05.parquet: a double amount 12.345 (precision), a created_at "
         "string `2026-03-01 09:30:00 CST` (ambiguous) and one in year 10000 (implausible)",
         parquet("crm/opportunities_2026-05.parquet", [
             {"opportunity_id": "O4", "account_id": "A1", "owner_user_id": "U1", "created_at": "2026-03-01 09:30:00",
              "amount": 12.345, "opportunity_type": "new", "stage": "赢单", "is_closed": True, "is_won": True},
             {"opportunity_id": "O5", "account_id": "A1", "owner_user_id": "U1",
              "created_at": "2026-03-01 09:30:00 CST", "amount": 10.0, "opportunity_type": "new", "stage": "赢单",
              "is_closed": True, "is_won": True},
             {"opportunity_id": "O6", "account_id": "A1", "owner_user_id": "U1", "created_at": "10000-03-01",
              "amount": 10.5, "opportunity_type": "new", "stage": "赢单", "is_closed": True, "is_won": True},
             {"opportunity_id": "O7", "account_id": "A1", "owner_user_id": "U1", "created_at": "2026-03-01T01:30:00Z",
              "amount": 10.25, "opportunity_type": "new", "stage": "赢单", "is_closed": True, "is_won": True}]),
         counts=counts(opportunities=(7, 4, 3)),
         rejected=(("crm/opportunities_2026-05.parquet", 1, "amount", "precision"),
                   ("crm/opportunities_2026-05.parquet", 2, "created_at", "ambiguous_timezone"),
                   ("crm/opportunities_2026-05.parquet", 3, "created_at", "implausible_date")),
         landed={("crm/opportunities", "created_at"): _MINIMAL_CREATED + [dt.datetime(2026, 3, 1, 9, 30)]}),
    Case("parquet_utc_midnight", "crm/opportunities_2026-05.parquet: created_at typed timestamp in UTC at midnight "
         "(08:00 in Shanghai, not a date), a typed close_date 0001-01-01 (implausible)",
         parquet("crm/opportunities_2026-05.parquet", [
             {"opportunity_id": "O4", "account_id": "A1", "owner_user_id": "U1",
              "created_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "amount": 10.0, "opportunity_type": "new",
              "stage": "赢单", "is_closed": True, "is_won": True, "close_date": dt.date(2026, 3, 2)},
             {"opportunity_id": "O5", "account_id": "A1", "owner_user_id": "U1",
              "created_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "amount": 10.0, "opportunity_type": "new",
              "stage": "赢单", "is_closed": True, "is_won": True, "close_date": dt.date(1, 1, 1)}]),
         counts=counts(opportunities=(5, 4, 1)),
         rejected=(("crm/opportunities_2026-05.parquet", 2, "close_date", "implausible_date"),),
         landed={("crm/opportunities", "created_at"): _MINIMAL_CREATED + [dt.datetime(2026, 3, 1, 8)]}),
]
