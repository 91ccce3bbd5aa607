"""Corpus cases of the ingest lane (issue 13): how raw export files are found and read. Mixed encodings inside one
file, integers that must keep every digit, Excel formulas without saved values, part files in other formats or
that cannot be read, and vendor columns named like closedloop's lineage. Same `Case` shape as tests/corpus/cases.py
(and rendered into docs/validation.md with them).

Legacy .xls fixtures are written with `xlwt` (a dev-only dependency, pinned in the `dev` extra), the one writer of
the format on PyPI; closedloop itself reads them with python-calamine.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import zipfile
from decimal import Decimal as D
from pathlib import Path

from corpus.cases import (
    MINIMAL_OPPS,
    MINIMAL_USERS,
    OPPS,
    OPPS_HEADER,
    USERS,
    USERS_HEADER,
    Case,
    Mutation,
    both,
    counts,
    csv_text,
    line,
    opp,
    write,
    xlsx,
)

LEADS_HEADER = ["lead_id", "created_at", "channel", "status"]
BIG = 987654321098765432  # beyond 2**53: a float64 keeps it as 987654321098765440


def append_bytes(path: str, data: bytes) -> Mutation:
    def mutate(raw: Path) -> None:
        with (raw / path).open("ab") as f:
            f.write(data)

    return mutate


def users_in(encoding: str, *extra: bytes, bom: bool = False) -> Mutation:
    """crm/users.csv written in `encoding`, then raw byte rows appended (rows in another encoding)."""
    data = (b"\xef\xbb\xbf" if bom else b"") + csv_text(USERS_HEADER, MINIMAL_USERS).encode(encoding)
    return write(USERS, data + b"".join(extra))


def row(values: list[str], encoding: str) -> bytes:
    return line(values).encode(encoding)


def gzipped(path: str, text: str) -> Mutation:
    return write(path, gzip.compress(text.encode("utf-8"), mtime=0))


def zipped(path: str, members: dict[str, str]) -> Mutation:
    def mutate(raw: Path) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in members.items():
                archive.writestr(name, text.encode("utf-8"))
        (raw / path).write_bytes(buf.getvalue())

    return mutate


def xls(path: str, header: list[str], rows: list[list[object] | None]) -> Mutation:
    """A legacy Excel (BIFF8) part written by xlwt; None is an empty sheet row."""

    def mutate(raw: Path) -> None:
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        sheet = book.add_sheet("Sheet1")
        stamp = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
        for c, name in enumerate(header):
            sheet.write(0, c, name)
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values or []):
                if isinstance(value, dt.datetime):
                    sheet.write(r, c, value, stamp)
                else:
                    sheet.write(r, c, value)
        book.save(str(raw / path))

    return mutate


def _arrow_type(name: str):
    import pyarrow as pa

    if name.startswith("decimal128("):
        precision, scale = name[len("decimal128("):-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return getattr(pa, name)()


def parquet_table(path: str, columns: dict, types: dict[str, str]) -> Mutation:
    """A Parquet part with the Arrow types named in `types` (`int64`, `uint64`, `decimal128(38,0)` …)."""

    def mutate(raw: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({k: pa.array(v, type=_arrow_type(types[k])) for k, v in columns.items()}), raw / path)

    return mutate


def xlsx_formulas(path: str, header: list[str], rows: list[list[object]]) -> Mutation:
    """An .xlsx part as a program writes it (openpyxl): text starting with `=` is a formula, and no formula's
    result is saved (only Excel computes and stores them)."""

    def mutate(raw: Path) -> None:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(header)
        for values in rows:
            ws.append(values)
        wb.save(raw / path)

    return mutate


def xlsx_exact_integer(path: str, header: list[str], rows: list[list[object]], value: int) -> Mutation:
    """An .xlsx whose number cells hold `value` written in full (`<v>987654321098765432</v>`, as exporters that
    are not Excel write it; openpyxl and Excel write a double's 17 significant digits, so the file itself has lost
    the digits)."""

    def mutate(raw: Path) -> None:
        xlsx(path, header, rows)(raw)
        target = raw / path
        source = zipfile.ZipFile(io.BytesIO(target.read_bytes()))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename.startswith("xl/worksheets/"):
                    data = data.replace(f"<v>{float(value)!r}</v>".encode(), f"<v>{value}</v>".encode())
                out.writestr(item, data)
        target.write_bytes(buf.getvalue())

    return mutate


def fifo(path: str) -> Mutation:
    return lambda raw: os.mkfifo(raw / path)


def symlink(path: str, target: str) -> Mutation:
    return lambda raw: os.symlink(target, raw / path)


def folder(path: str) -> Mutation:
    return lambda raw: (raw / path).mkdir()


CAMPAIGN = write("campaign/campaigns.csv", csv_text(["campaign_id", "campaign_name", "channel"],
                                                    [["C1", "春季直播", "直播"]]))
OPPS_4 = [opp("O4"), opp("O5", owner="U2", amount="7")]

TABLE_ERRORS_INGEST = [
    Case("required_table_under_a_typo", "crm/opportunities.csv saved as crm/opportunity.csv: the required table is "
         "missing, and the message names the file it may be",
         lambda root: (root / OPPS).rename(root / "crm" / "opportunity.csv"),
         error=r"required table `crm/opportunities` is missing.*crm/opportunity\.csv: named like no table; the "
               r"closest is `crm/opportunities`"),
    Case("fifo_part", "crm/opportunities_4.csv is a FIFO (named pipe): reading it would hang",
         fifo("crm/opportunities_4.csv"),
         error=r"crm/opportunities_4\.csv: is a FIFO \(named pipe\), not a file.*part of table `crm/opportunities`"),
    Case("dangling_symlink_part", "crm/leads.csv is a symbolic link to a file that does not exist",
         symlink("crm/leads.csv", "/nonexistent/leads.csv"),
         error=r"crm/leads\.csv: is a symbolic link to /nonexistent/leads\.csv, which does not exist"),
    Case("symlink_loop_part", "crm/opportunities_5.csv is a symbolic link to itself (a loop)",
         symlink("crm/opportunities_5.csv", "opportunities_5.csv"),
         error=r"crm/opportunities_5\.csv: cannot be read: .*symbolic links.*part of table `crm/opportunities`"),
    Case("folder_named_like_a_part", "crm/opportunities_6.csv is a folder (an unpacked archive, a copy gone wrong)",
         folder("crm/opportunities_6.csv"), error=r"crm/opportunities_6\.csv: is a folder, not a file"),
    Case("zip_with_two_files", "crm/opportunities_2.csv.zip holds two CSV files",
         zipped("crm/opportunities_2.csv.zip", {"a.csv": csv_text(OPPS_HEADER, [opp("O4")]),
                                                "b.csv": csv_text(OPPS_HEADER, [opp("O5")])}),
         error=r"crm/opportunities_2\.csv\.zip: a zipped export must hold exactly one \.csv.*"
               r"holds 2 \(a\.csv, b\.csv\)"),
    Case("truncated_gzip", "crm/opportunities_2.csv.gz cut off in the middle of its compressed stream",
         write("crm/opportunities_2.csv.gz",
               gzip.compress(csv_text(OPPS_HEADER, [opp(f"O{i}") for i in range(4, 400)]).encode(), mtime=0)[:600]),
         error=r"crm/opportunities_2\.csv\.gz: cannot be read: .*(end-of-stream|Compressed file ended)"),
    Case("corrupt_xls", "crm/leads.xls is not a spreadsheet", write("crm/leads.xls", b"not an xls"),
         error=r"crm/leads\.xls: cannot be opened as a spreadsheet \(\.xls/\.ods\)"),
    Case("undecodable_header", "crm/users.csv whose header row is neither UTF-8 nor GBK text (0xFF bytes)",
         write(USERS, b"user_id,\xff\xfe,department_id,role\nU1,a,D1,sales\n"),
         error=r"crm/users\.csv: unreadable encoding: the header row is neither UTF-8 \(byte 0xff at offset 8\) nor "
               r"GBK/GB18030"),
]

ROWS_INGEST = [
    # --- encodings decided per record --------------------------------------------------------------------------
    Case("utf8_with_a_gbk_row", "UTF-8 crm/users.csv with one row saved as GBK (王芳): each row is read in its own "
         "encoding", users_in("utf-8", row(["U3", "王芳", "D1", "sales"], "gbk")), counts=counts(users=(3, 3, 0)),
         landed={("crm/users", "user_name"): ["张伟", "李娜", "王芳"]}),
    Case("gbk_with_a_utf8_row", "GBK crm/users.csv with one UTF-8 row (王芳, which GBK would read as 鐜嬭姵)",
         users_in("gbk", row(["U3", "王芳", "D1", "sales"], "utf-8")), counts=counts(users=(3, 3, 0)),
         landed={("crm/users", "user_name"): ["张伟", "李娜", "王芳"]}),
    Case("utf8_with_cp1252_rows", "UTF-8 crm/users.csv with rows `José`, `Müller`, `Françoise` in Windows-1252: set "
         "aside (`encoding`), never loaded garbled",
         users_in("utf-8", row(["U3", "José", "D1", "sales"], "cp1252"), row(["U4", "Müller", "D1", "sales"], "cp1252"),
                  row(["U5", "Françoise", "D1", "sales"], "cp1252")),
         counts=counts(users=(5, 2, 3)),
         rejected=((USERS, 4, None, "encoding"), (USERS, 5, None, "encoding"), (USERS, 6, None, "encoding")),
         messages=(r"neither UTF-8 nor GBK text \(byte 0xe9 at position \d+ is not UTF-8",),
         landed={("crm/users", "user_name"): ["张伟", "李娜"]}),
    Case("undecodable_encoding", "UTF-8 crm/users.csv with a row of bytes that are neither UTF-8 nor GBK (0xFF)",
         users_in("utf-8", b"U3,\xff\xfe\xfd,D1,sales\n"), counts=counts(users=(3, 2, 1)),
         rejected=((USERS, 4, None, "encoding"),), messages=(r"byte 0xff at position 4 is not UTF-8",)),
    Case("gbk_with_a_cp1252_row", "GBK crm/users.csv with a Windows-1252 row `Renée`: set aside",
         users_in("gbk", row(["U3", "Renée", "D1", "sales"], "cp1252"), row(["U4", "王芳", "D2", "sales"], "gbk")),
         counts=counts(users=(4, 3, 1)), rejected=((USERS, 4, None, "encoding"),),
         landed={("crm/users", "user_name"): ["张伟", "李娜", "王芳"]}),
    Case("utf8_bom_with_a_gbk_row", "crm/users.csv: UTF-8 with a byte-order mark, one GBK row, one UTF-8 `José`",
         users_in("utf-8", row(["U3", "王芳", "D1", "sales"], "gbk"), row(["U4", "José", "D2", "sales"], "utf-8"),
                  bom=True),
         counts=counts(users=(4, 4, 0)), landed={("crm/users", "user_name"): ["张伟", "李娜", "王芳", "José"]}),
    Case("gbk_row_in_quoted_multiline_utf8", "UTF-8 crm/opportunities.csv with a quoted two-line name in GBK",
         both(write(OPPS, csv_text([*OPPS_HEADER, "opportunity_name"], [r + ["一期"] for r in MINIMAL_OPPS])),
              append_bytes(OPPS, line(opp("O4") + ["华为\n二期"]).encode("gbk"))),
         counts=counts(opportunities=(4, 4, 0)),
         landed={("crm/opportunities", "opportunity_name"): ["一期", "一期", "一期", "华为\n二期"]}),
    # --- integers keep every digit -----------------------------------------------------------------------------
    Case("integers_keep_digits_every_reader", "987654321098765432 in campaign spend from Parquet (int64, also in a "
         "column with a null; uint64 and decimal(38,0) extras), an .xlsx number cell holding all 18 digits and a "
         "CSV: every digit lands",
         both(CAMPAIGN,
              parquet_table("campaign/campaign_spend_1.parquet",
                            {"campaign_id": ["C1", "C1"], "spend_date": [dt.date(2026, 1, 5), dt.date(2026, 1, 6)],
                             "spend": [D("1.00"), D("2.00")], "impressions": [BIG, BIG + 1], "ref": [BIG, None],
                             "unsigned": [2**64 - 1, None], "wide": [D("12345678901234567890123"), None]},
                            {"campaign_id": "string", "spend_date": "date32", "spend": "decimal128(18,2)",
                             "impressions": "int64", "ref": "int64", "unsigned": "uint64", "wide": "decimal128(38,0)"}),
              xlsx_exact_integer("campaign/campaign_spend_2.xlsx",
                                 ["campaign_id", "spend_date", "spend", "impressions", "ref"],
                                 [["C1", dt.date(2026, 1, 7), 3, BIG, BIG]], BIG),
              write("campaign/campaign_spend_3.csv",
                    csv_text(["campaign_id", "spend_date", "spend", "impressions", "ref"],
                             [["C1", "2026-01-08", "4", str(BIG), str(BIG)]]))),
         counts=counts(campaigns=(1, 1, 0), campaign_spend=(4, 4, 0)),
         landed={("campaign/campaign_spend", "impressions"): [BIG, BIG + 1, BIG, BIG],
                 ("campaign/campaign_spend", "ref"): [str(BIG), None, str(BIG), str(BIG)],
                 ("campaign/campaign_spend", "unsigned"): [str(2**64 - 1), None, None, None],
                 ("campaign/campaign_spend", "wide"): ["12345678901234567890123", None, None, None]}),
    # --- Excel formulas without a saved value ------------------------------------------------------------------
    Case("xlsx_formula_without_value", "crm/opportunities_2026-05.xlsx written by a program: amount `=100*2` and a "
         "name `=A2&\"-x\"` are formulas whose results were never saved",
         xlsx_formulas("crm/opportunities_2026-05.xlsx", [*OPPS_HEADER, "opportunity_name"], [
             ["O4", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 1200.5, "new", "赢单", True, True, "ok"],
             ["O5", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), "=100*2", "new", "赢单", True, True, None],
             ["O6", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 5, "new", "赢单", True, True, '=A2&"-x"']]),
         counts=counts(opportunities=(6, 4, 2)),
         rejected=(("crm/opportunities_2026-05.xlsx", 3, "amount", "formula_without_value"),
                   ("crm/opportunities_2026-05.xlsx", 4, "opportunity_name", "formula_without_value")),
         messages=(r"a formula whose result was never saved",),
         landed={("crm/opportunities", "opportunity_id"): ["O1", "O2", "O3", "O4"]}),
    # --- other formats, and files named like a part that closedloop does not read ----------------------------
    Case("xls_part", "crm/opportunities_3.xls (legacy Excel, xlwt): typed cells, an empty sheet row, a negative "
         "amount in row 4",
         xls("crm/opportunities_3.xls", OPPS_HEADER, [
             ["O4", "A1", "U1", dt.datetime(2026, 3, 1, 9, 30), 1200.5, "new", "赢单", True, True], None,
             ["O5", "A1", "U1", dt.datetime(2026, 3, 2), -1, "new", "赢单", "是", "否"]]),
         counts=counts(opportunities=(5, 4, 1)), rejected=(("crm/opportunities_3.xls", 4, "amount", "non_negative"),),
         landed={("crm/opportunities", "amount"): [D("100000.00"), D("50000.00"), D("80000.50"), D("1200.50")]}),
    Case("compressed_csv_parts", "crm/opportunities_2.csv.gz, crm/opportunities_3.tsv.zip (one member) and "
         "crm/leads.csv.gz",
         both(gzipped("crm/opportunities_2.csv.gz", csv_text(OPPS_HEADER, [opp("O4", amount="-1"), opp("O5")])),
              zipped("crm/opportunities_3.tsv.zip", {"export/opps.tsv": csv_text(OPPS_HEADER, [opp("O6")], "\t")}),
              gzipped("crm/leads.csv.gz", csv_text(LEADS_HEADER, [["L1", "2026-01-05", "官网", "new"]]))),
         counts=counts(leads=(1, 1, 0), opportunities=(6, 5, 1)),
         rejected=(("crm/opportunities_2.csv.gz", 2, "amount", "non_negative"),),
         landed={("crm/opportunities", "opportunity_id"): ["O1", "O2", "O3", "O5", "O6"]}),
    Case("unknown_suffix_listed", "crm/leads_1.numbers and crm/opportunities.csv.bak: named like parts, not read, "
         "and listed as ignored",
         both(write("crm/leads_1.numbers", b"PK\x03\x04"), write("crm/opportunities.csv.bak", b"x")),
         counts=counts(),
         stdout=(r"^Ignored files", r"^  ! crm/leads_1\.numbers: named like a part of `crm/leads` but its type "
                 r"`\.numbers`", r"^  ! crm/opportunities\.csv\.bak: .*`\.bak`")),
    Case("files_named_like_no_table_listed", "crm/user.csv (a typo of users) and crm/README.txt beside the "
         "exports: not read, and each listed, the typo under the table it is closest to",
         both(write("crm/user.csv", b"user_id,user_name,department_id,role\nU9,x,D1,sales\n"),
              write("crm/README.txt", b"exported 2026-11-01")),
         counts=counts(),
         stdout=(r"^  ! crm/user\.csv: named like no table; the closest is `crm/users`",
                 r"^Files not read \(named like no table", r"^  ! crm/README\.txt$")),
    # --- lineage is closedloop's own ---------------------------------------------------------------------------
    Case("vendor_lineage_columns_csv", "crm/users.csv with vendor columns `_source_file`, `_source_row`, `__file`, "
         "`__row`: kept as `vendor_…`, the lineage stays the real file and row",
         write(USERS, csv_text([*USERS_HEADER, "_source_file", "_source_row", "__file", "__row"],
                               [r + ["spoof.csv", "99", "f", "r"] for r in MINIMAL_USERS])),
         counts=counts(),
         stdout=(r"^Renamed columns", r"crm/users\.csv: vendor column `_source_file` kept as `vendor__source_file`"),
         landed={("crm/users", "_source_file"): [USERS, USERS], ("crm/users", "_source_row"): [2, 3],
                 ("crm/users", "vendor__source_file"): ["spoof.csv", "spoof.csv"],
                 ("crm/users", "vendor__source_row"): ["99", "99"], ("crm/users", "vendor___row"): ["r", "r"]}),
    Case("vendor_lineage_columns_xlsx_parquet", "an .xlsx part with `_source_file` and a Parquet part with `__row` "
         "and `_SOURCE_ROW`: lineage stays real",
         both(xlsx("crm/opportunities_2.xlsx", [*OPPS_HEADER, "_source_file"],
                   [[*opp("O4")[:3], "2026-01-05T10:00:00", 100, *opp("O4")[5:], "x.csv"]]),
              parquet_table("crm/opportunities_3.parquet",
                            {**{c: [v] for c, v in zip(OPPS_HEADER, opp("O5"), strict=True)}, "__row": [7],
                             "_SOURCE_ROW": [8]},
                            {**{c: "string" for c in OPPS_HEADER}, "__row": "int64", "_SOURCE_ROW": "int64"})),
         counts=counts(opportunities=(5, 5, 0)),
         landed={("crm/opportunities", "_source_file"): [OPPS] * 3 + ["crm/opportunities_2.xlsx",
                                                                      "crm/opportunities_3.parquet"],
                 ("crm/opportunities", "_source_row"): [2, 3, 4, 2, 1],
                 ("crm/opportunities", "vendor__source_file"): [None, None, None, "x.csv", None],
                 ("crm/opportunities", "vendor___row"): [None, None, None, None, "7"],
                 ("crm/opportunities", "vendor__SOURCE_ROW"): [None, None, None, None, "8"]}),
]

CASES_INGEST = (*TABLE_ERRORS_INGEST, *ROWS_INGEST)
