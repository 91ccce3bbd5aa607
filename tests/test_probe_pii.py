"""Probes of masking by what a value is (dashboards/pii.py) with other spellings than the issue's examples (issue 13,
probe lane): each value below showed unmasked to a viewer without PII rights, in any text column, before the fix.
Pure Python; queries.fetch applies the same mask_frame to every frame (pages, drills, rows set aside, downloads)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards.pii import fold, mask_frame, mask_text  # noqa: E402

# (text, what must not be visible after masking)
LEAKED = {
    # internationalised e-mail addresses: the local part was kept (or all but its last letters)
    "CJK local part and domain": ("张伟@例子.公司", "张伟"),
    "CJK local part, ASCII domain": ("联系人：王芳@jiahe.com", "王芳"),
    "Latin with diacritics": ("zhāng.wěi@bücher.de", "zhāng.wě"),
    "Cyrillic": ("андрей.петров@example.ru", "андрей"),
    "plus-addressing with diacritics": ("josé+crm@exámple.com", "josé+crm"),
    "ASCII local, IDN domain": ("zhou.jg@例子.公司", "zhou.jg"),
    # phones with invisible separators pasted from chat apps or web pages (each middle group unique, so it
    # cannot be another value's last four digits, which stay visible by design)
    "zero-width spaces": ("138\u200b2468\u200b5678", "2468"),
    "zero-width joiner": ("138\u200d3579\u200d5678", "3579"),
    "word joiner": ("138\u20604680\u20605678", "4680"),
    "BOM inside": ("\ufeff138\ufeff5791\ufeff5678", "5791"),
    "soft hyphens": ("138\u00ad6802\u00ad5678", "6802"),
    # landlines after the country code without their trunk 0
    "86-10-…": ("86-10-65521234", "6552"),
    "86 21 …": ("电话 86 21 6552 1234", "6552"),
    "8610 grouped": ("8610 6552 1234", "6552"),
    "0086 755 …": ("0086 755 2655 1234", "2655"),
    "86-571-…": ("86-571-8765-4321", "8765"),
    # a WeChat id after a Chinese label and a space, when it looks like an id (a digit or underscore in it)
    "微信 space id": ("客户微信 zhou_jg88", "zhou_jg88"),
    "微信 space id with digits": ("微信 lihua1990", "lihua1990"),
}


@pytest.mark.parametrize("case", sorted(LEAKED))
def test_other_spellings_are_masked(case):
    text, secret = LEAKED[case]
    out = mask_text(text)
    assert secret not in out and "*" in out, (text, out)
    assert len(out) <= len(text) + 3  # masked in place, not replaced wholesale


@pytest.mark.parametrize("case", sorted(LEAKED))
def test_in_rows_set_aside_and_any_column_of_a_download(case):
    """The long format of rows set aside (value under a column that is not named like a contact column) and a
    free-text column of a page's table."""
    text, secret = LEAKED[case]
    frame = pd.DataFrame({"table_name": ["leads"], "column_name": ["notes"], "rule": ["required"], "value": [text],
                          "remark": [f"备注 {text}"]})
    out = mask_frame(frame)
    assert secret not in out.value.iloc[0] and secret not in out.remark.iloc[0]


STAYS = [
    "请@张伟处理",  # a chat mention, not an address (no dot in the "domain")
    "微信 Moments",  # a WeChat feature, not an id
    "微信 公众号",
    "订单号 86-10-2024",  # too short to be a landline
    "2026-01-05 10:00:00",
    "8610",
    "861065521234",  # a bare 12-digit number is an id (int64 ids keep every digit on screen)
    "¥86,100,655.21",
    "zhou@x.com电话",  # the e-mail is masked, the word after it stays
]


@pytest.mark.parametrize("text", STAYS)
def test_what_is_not_contact_data_stays(text):
    out = mask_text(text)
    if "@x.com" in text:
        assert out == "z***@x.com电话"
    else:
        assert out == text


def test_text_after_an_address_is_still_scanned():
    """A domain ends where Latin letters end: Chinese text and a phone right after it are not taken for the domain."""
    out = mask_text("联系zhou@x.com电话13812345678")
    assert out == "联系z***@x.com电话138****5678"


def test_zero_width_characters_fold_to_spaces_one_to_one():
    text = "a\u200bb\u200cc\u200dd\u2060e\ufeff"
    assert len(fold(text)) == len(text) and re.fullmatch(r"a b c d e ", fold(text))


# ---- through the real Data page and its downloads, for a viewer without PII rights ------------------------------

def test_new_spellings_are_masked_on_the_data_page_and_in_its_downloads(sample, tmp_path, monkeypatch):
    """The rows set aside of a copy of the sample carry every spelling above (in columns not named like contact
    details), seen by an executive allowed row-level data but not contact details."""
    import io

    import duckdb
    import openpyxl
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    from dashboards import exports

    copy = tmp_path / "pii.duckdb"
    shutil.copyfile(sample.warehouse, copy)
    con = duckdb.connect(str(copy))
    con.execute("delete from ops.closedloop_rejected_rows")
    rows = [(i, "crm/leads", "leads", "crm/leads.csv", 10 + i, "notes", "required", text, f"备注 {text}")
            for i, (text, _) in enumerate(LEAKED.values(), start=1)]
    con.executemany("insert into ops.closedloop_rejected_rows values (?, ?, 'crm', ?, ?, ?, ?, ?, ?, ?, 'b1')", rows)
    con.close()
    roles = tmp_path / "roles.yml"
    roles.write_text("login: false\nallow_test_user: true\nroles: {executive: {row_level: true}}\n"
                     "users: {ceo@example.com: executive}\n", encoding="utf-8")
    monkeypatch.setenv("CLOSEDLOOP_WAREHOUSE", str(copy))
    monkeypatch.setenv("CLOSEDLOOP_ACCESS", str(roles))
    monkeypatch.setenv("CLOSEDLOOP_ACCESS_TEST_USER", "ceo@example.com")
    at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=120)
    at.query_params["dq_table"] = "crm/leads"
    at._page_hash = calc_hash("data")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # Numeric columns (row counts of the warehouse's tables) are left out: a count such as 124680 holds the digits
    # of a secret by chance, and a number column cannot carry a phone typed as text.
    def text_columns(df):
        return df.select_dtypes(exclude="number")

    body = "\n".join(text_columns(df).astype(str).to_csv() for df in (d.value for d in at.dataframe))
    body += "\n".join(str(m.value) for m in [*at.markdown, *at.caption])
    tables = at.session_state["_ctx"].tables
    files = "\n".join(exports.csv_bytes(text_columns(df)).decode("utf-8-sig") for _, df in tables)
    book = openpyxl.load_workbook(io.BytesIO(exports.xlsx_bytes(tables)))
    files += " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row
                      if c.value is not None and not isinstance(c.value, int | float))
    assert "备注" in body and "备注" in files  # the rows set aside are there
    for case, (_, secret) in LEAKED.items():
        assert secret not in body and secret not in files, case
