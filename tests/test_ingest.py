"""How raw files are found and read (issue 13, ingest lane), below the corpus (tests/corpus/cases_ingest.py):
the per-record encoding decision, unreadable parts (a PermissionError, which root cannot provoke with chmod 000,
is raised by a patched open), compressed parts, vendor columns named like the lineage through the mapping path,
and integers through the mapping path. No GX, no dbt."""

from __future__ import annotations

import gzip
import io
import pathlib
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpus.cases import MINIMAL_OPPS, MINIMAL_USERS, OPPS_HEADER, USERS_HEADER, csv_text
from corpus.defects import MINIMAL

from closedloop import contract, readers, sources, validate
from closedloop.cli import main
from closedloop.mapping import MappingError, load_mapping, parse_mapping
from closedloop.readers import FILE, ROW, decide_record

# --- the encoding of a record ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "written", "decided"), [
    ("U1,张伟,D1", "utf-8", "utf-8"),
    ("U1,张伟,D1", "gbk", "gb18030"),
    ("华为技术有限公司，北京 iPhone手机", "gbk", "gb18030"),
    ("U1,张,D1,sales", "gbk", "gb18030"),  # one character: GBK bytes that are also well-formed UTF-8 (Õ Å)
    ("José,Müller,Ångström", "utf-8", "utf-8"),
    ("José", "cp1252", None), ("Josée", "cp1252", None), ("Müller", "cp1252", None), ("Françoise", "cp1252", None),
    ("Renée Zoë café", "cp1252", None),
    ("a,b", "ascii", "utf-8"),
])
def test_decide_record(text: str, written: str, decided: str | None) -> None:
    assert decide_record(text.encode(written)) == decided


def test_common_chinese_is_decided_right_in_both_encodings() -> None:
    """Every GB2312 level-1 character (the common ones), alone in a field: GBK read as GBK, UTF-8 as UTF-8."""
    chars = [bytes([hi, lo]).decode("gbk") for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)
             if hi * 256 + lo <= 0xD7F9]
    wrong = [c for c in chars if decide_record(f"U1,{c},D1".encode("gbk")) != "gb18030"
             or decide_record(f"U1,{c},D1".encode()) != "utf-8"]
    assert not wrong


def test_consistent_utf8_keeps_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(csv_text(USERS_HEADER, MINIMAL_USERS), encoding="utf-8")
    assert readers.detect_encoding(path) == "utf-8"
    path.write_bytes(path.read_bytes() + "U3,王芳,D1,sales\n".encode("gbk"))
    assert readers.detect_encoding(path) == readers.PER_RECORD


def test_mixed_file_rows_read_equal_loaded_plus_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("id,name\n1,张伟\n".encode() + "2,李娜\n".encode("gbk") + "3,José\n".encode("cp1252")
                     + b"\n" + "4,\"王\n芳\"\n".encode("gbk"))
    frame, rejections = readers.read_all(path, "t.csv")
    assert frame["name"].tolist() == ["张伟", "李娜", "王\n芳"] and frame[ROW].tolist() == [2, 3, 6]
    assert [(r.row, r.rule, r.value) for r in rejections] == [(4, "encoding", "3,Jos\\xe9")]


# --- files that are parts but cannot be read ------------------------------------------------------------------


def _raw(tmp_path: Path) -> Path:
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(MINIMAL, raw)
    return raw


def test_permission_denied_part_is_a_table_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    """chmod 000 does not stop root (the tests run as root), so open() is made to refuse as it would a user."""
    raw = _raw(tmp_path)
    (raw / "crm" / "opportunities_2.csv").write_text(csv_text(OPPS_HEADER, MINIMAL_OPPS[:1]), encoding="utf-8")
    (raw / "crm" / "opportunities_2.csv").chmod(0)
    real_open = pathlib.Path.open

    def refusing(self, *args, **kwargs):
        if self.name == "opportunities_2.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", refusing)
    assert main(["validate", "--raw", str(raw)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("closedloop validate: crm/opportunities_2.csv: cannot be opened: Permission denied")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_suffix_alone_is_named_when_a_required_table_is_missing(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    raw = _raw(tmp_path)
    (raw / "crm" / "opportunities.csv").rename(raw / "crm" / "opportunities.numbers")
    assert main(["validate", "--raw", str(raw)]) == 1
    err = capsys.readouterr().err
    assert "required table `crm/opportunities` is missing" in err
    assert "not read: crm/opportunities.numbers: named like a part of `crm/opportunities`" in err


def test_scan_lists_ignored_and_skips_siblings(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    for name in ("campaigns.csv.bak", "campaign_spend.csv", "campaigns_old.numbers", "~$campaigns.xlsx"):
        (raw / "campaign").mkdir(exist_ok=True)
        (raw / "campaign" / name).write_text("x", encoding="utf-8")
    parts, ignored = sources.scan(raw, contract.table("campaign/campaigns"))
    assert parts == []
    assert [i.split(":")[0] for i in ignored] == ["campaign/campaigns.csv.bak", "campaign/campaigns_old.numbers"]


def test_zip_member_in_a_folder_and_macos_metadata(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("export/", b"")
        archive.writestr("__MACOSX/export/._users.csv", b"\x00\x05")
        archive.writestr("export/users.csv", csv_text(USERS_HEADER, MINIMAL_USERS).encode("gbk"))
    path = tmp_path / "users.csv.zip"
    path.write_bytes(buf.getvalue())
    frame, rejections = readers.read_all(path, "users.csv.zip")
    assert frame["user_name"].tolist() == ["张伟", "李娜"] and not rejections


def test_gzip_keeps_row_numbers_through_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from closedloop import fastcsv

    monkeypatch.setattr(fastcsv, "READ_BYTES", 64)  # many blocks
    rows = [[f"O{i}", f"名{i}"] for i in range(200)] + [["bad", "x", "y"]]
    text = csv_text(["id", "name"], rows[:200]) + "bad,x,y\n"
    path = tmp_path / "o.csv.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    frame, rejections = readers.read_all(path, "o.csv.gz")
    assert frame["id"].tolist() == [r[0] for r in rows[:200]] and frame[ROW].tolist() == list(range(2, 202))
    assert [(r.row, r.rule) for r in rejections] == [(202, "field_count")]


# --- lineage and integers through the mapping path ------------------------------------------------------------

MAPPING = """
tables:
  crm/leads:
    file: leads
    columns:
      lead_id: Id
      created_at: Created
      channel: Source
      status: Status
    keep:
      vendor_file: vendor__source_file
      ref: Ref
"""


def test_mapping_path_lineage_is_real_and_integers_keep_digits(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    pq.write_table(pa.table({"Id": pa.array([987654321098765432, 2], pa.int64()),
                             "Created": ["2026-01-05", "2026-01-06"], "Source": ["官网", "官网"],
                             "Status": ["new", "new"], "_source_file": ["spoof.csv", None],
                             "__row": pa.array([99, None], pa.int64()), "__file": ["f", "g"],
                             "Ref": pa.array([None, 2**64 - 1], pa.uint64())}), raw / "leads.parquet")
    (tmp_path / "m.yml").write_text(MAPPING, encoding="utf-8")
    inputs = load_mapping(tmp_path / "m.yml").inputs(raw)
    frames = [c.frame for c in inputs["crm/leads"].chunks()]
    frame = frames[0]
    assert frame["lead_id"].tolist() == ["987654321098765432", "2"]
    assert frame["ref"].tolist() == [None, "18446744073709551615"]
    assert frame["vendor_file"].tolist() == ["spoof.csv", None]
    assert frame[FILE].tolist() == ["leads.parquet"] * 2 and frame[ROW].tolist() == [1, 2]


@pytest.mark.parametrize("name", ["_source_file", "_Source_Row", "__row", "created_at__parsed"])
def test_mapping_cannot_name_an_extra_like_the_lineage(name: str) -> None:
    with pytest.raises(MappingError, match="reserved"):
        parse_mapping(MAPPING.replace("vendor_file:", f"{name}:"))


def test_renamed_header_never_collides(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,_source_file,vendor__source_file,__ROW\n1,a,b,c\n", encoding="utf-8")
    info = readers.read_info(path)
    assert info.header == ["id", "vendor__source_file_2", "vendor__source_file", "vendor___ROW"]
    frame, _ = readers.read_all(path)
    assert frame.loc[0, "vendor__source_file_2"] == "a" and frame.loc[0, ROW] == 2


@pytest.mark.parametrize("kind", ["parsed", "issue", "norm", "date"])
def test_vendor_columns_named_like_every_validation_helper_are_renamed(tmp_path: Path, kind: str) -> None:
    """Validation adds `<column>__<kind>` helpers (closedloop.validate._SHADOW): a vendor column of that shape is kept
    under another name, so it can never be taken for one."""
    path = tmp_path / "t.csv"
    path.write_text(f"id,created_at__{kind}\n1,x\n", encoding="utf-8")
    header = readers.read_info(path).header
    assert header[0] == "id" and header[1].startswith(f"vendor_created_at__{kind}") and not validate._SHADOW.match(
        header[1]), header
    assert validate._SHADOW.match(f"created_at__{kind}")


def test_damaged_workbook_xml_is_one_sentence(tmp_path: Path) -> None:
    """Damaged XML inside an .xlsx fails while rows are read, not when it opens: still one ReadError naming it."""
    from openpyxl import Workbook

    wb = Workbook()
    for i in range(200):
        wb.active.append([f"L{i}", "2026-01-05", "官网", "new"])
    good = tmp_path / "good.xlsx"
    wb.save(good)
    bad = tmp_path / "leads.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            out.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    with pytest.raises(readers.ReadError, match=r"^crm/leads\.xlsx: cannot be read: "):
        readers.read_all(bad, "crm/leads.xlsx")


@pytest.mark.parametrize(("extra", "expected"), [
    (b"", "gb18030"),  # GBK throughout: read in one go, as fast as any text file
    ("U9,王芳,D1,sales\n".encode(), readers.PER_RECORD),  # a UTF-8 row among GBK ones
    ("U9,Josée,D1,sales\n".encode("cp1252"), readers.PER_RECORD),  # a Latin word GBK would read as ideographs
])
def test_gbk_throughout_reads_as_record_by_record_would(tmp_path: Path, extra: bytes, expected: str) -> None:
    rows = [[f"U{i}", name, "D1", "sales"] for i, name in enumerate(["张伟", "李娜", "iPhone手机", "欧阳·娜娜", "①号"])]
    path = tmp_path / "users.csv"
    path.write_bytes(csv_text(USERS_HEADER, rows).encode("gbk") + extra)
    assert readers.detect_encoding(path) == expected
    whole = list(readers.read_file(path, "u"))
    one_by_one = list(readers.read_file(path, "u", encoding=readers.PER_RECORD))
    assert [c.frame.to_dict("list") for c in whole] == [c.frame.to_dict("list") for c in one_by_one]
    assert [(r.row, r.rule) for c in whole for r in c.rejections] == \
        [(r.row, r.rule) for c in one_by_one for r in c.rejections]


def test_ods_part_is_read(tmp_path: Path) -> None:
    """An OpenDocument sheet (no writer is installed: the few XML files of a minimal .ods, written by hand)."""
    def text(value: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'

    def number(value: str) -> str:
        return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p>' \
            "</table:table-cell>"

    rows = [[text("lead_id"), text("name"), text("n")], [text("L1"), text("张伟"), number("12")], [],
            [text("L2"), text("李娜"), number("1.5")]]
    body = "".join(f"<table:table-row>{''.join(r)}</table:table-row>" for r in rows)
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
               f'<office:body><office:spreadsheet><table:table table:name="S">{body}</table:table></office:spreadsheet>'
               "</office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    path = tmp_path / "leads.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    frame, rejections = readers.read_all(path, "crm/leads.ods")
    assert frame[["lead_id", "name", "n"]].to_numpy().tolist() == [["L1", "张伟", "12"], ["L2", "李娜", "1.5"]]
    assert frame[ROW].tolist() == [2, 4] and not rejections


def test_mapping_path_lists_files_its_stems_name_but_cannot_read(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "leads.csv").write_text("Id,Created,Source,Status\nL1,2026-01-05,官网,new\n", encoding="utf-8")
    (raw / "leads_2.numbers").write_bytes(b"PK")
    (raw / "leadsheet.numbers").write_bytes(b"PK")  # not the stem `leads`
    (tmp_path / "m.yml").write_text(MAPPING.replace("      vendor_file: vendor__source_file\n", ""), encoding="utf-8")
    mapping = load_mapping(tmp_path / "m.yml")
    assert mapping.ignored_files(raw) == {"crm/leads": [
        f"leads_2.numbers: matches `leads` of {mapping.origin} but is not a type closedloop reads "
        f"({readers.FORMATS}); not read"]}
