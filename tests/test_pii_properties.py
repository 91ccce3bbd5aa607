"""Properties of the one detector and masker of contact details (dashboards/pii.py): every phone number, e-mail
address and WeChat id is masked in any spelling, any column and inside any text; ordinary numbers (amounts, ids,
dates, times) never are. Pure Python, no warehouse."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import pii  # noqa: E402
from dashboards.pii import fold, hide_paths, mask_frame, mask_text  # noqa: E402

MANY = settings(max_examples=300, deadline=None)
DIGIT = st.sampled_from("0123456789")
FULL_WIDTH = str.maketrans("0123456789+()-. ", "０１２３４５６７８９＋（）－．\u3000")
# Text around a value: anything but letters, digits and the characters that would join it (a glued letter or digit
# makes it part of an id, which is not masked by design).
AROUND = st.text(st.sampled_from(list("电话联系客户张伟：:，, 。;\n\t[]()（）【】'\"号码是为") ), max_size=6)


def digits_of(s: str) -> str:
    return re.sub(r"[^0-9]", "", fold(s))


@st.composite
def mobiles(draw) -> tuple[str, str]:
    """(spelling, the 11 digits)."""
    number = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(DIGIT, min_size=9, max_size=9)))
    groups = draw(st.sampled_from([(11,), (3, 4, 4), (3, 8), (7, 4), (4, 4, 3)]))
    # 3-8 and 7-4 with a space are two numbers ("130 20000101"), not a phone: only with a dash or a dot.
    seps = (["-", ".", "–", "－"] if groups in ((3, 8), (7, 4))
            else [" ", "-", ".", "  ", " - ", "\u3000", "\u00a0", "–"])
    sep = draw(st.sampled_from(seps))
    parts, i = [], 0
    for g in groups:
        parts.append(number[i:i + g])
        i += g
    body = sep.join(parts)
    prefix = draw(st.sampled_from(["", "+86 ", "+86", "+86-", "86 ", "86", "0086 ", "(+86) ", "+86 (0)"[:4]]))
    text = prefix + body
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return text, number


@st.composite
def landlines(draw) -> tuple[str, str]:
    code = draw(st.sampled_from(["010", "021", "020", "0755", "0571", "0512", "028"]))
    size = 8 if len(code) == 3 else draw(st.sampled_from([7, 8]))
    local = draw(st.sampled_from("23456789")) + "".join(draw(st.lists(DIGIT, min_size=size - 1, max_size=size - 1)))
    split = draw(st.sampled_from([None, 3, 4]))
    inner = draw(st.sampled_from([" ", "-", ""]))
    local_text = local if split is None or not inner else local[:split] + inner + local[split:]
    form = draw(st.sampled_from(["{c}{l}", "{c}-{l}", "{c} {l}", "({c}) {l}", "({c}){l}", "+86 {c1} {l}",
                                 "+86-{c1}-{l}"]))
    text = form.format(c=code, c1=code[1:], l=local_text)
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return text, code + local


@given(mobiles(), AROUND, AROUND)
@MANY
def test_every_spelling_of_a_mobile_number_is_masked(phone, before, after):
    text, number = phone
    out = mask_text(before + text + after)
    assert number not in digits_of(out), (text, out)
    assert out.count("*") == 4 and out.startswith(before) and out.endswith(after)
    assert len(out) == len(before + text + after)  # masked in place, in its own spelling


@given(landlines(), AROUND, AROUND)
@MANY
def test_every_spelling_of_a_landline_is_masked(phone, before, after):
    text, number = phone
    out = mask_text(before + text + after)
    assert number[-8:] not in digits_of(out) and "*" in out, (text, out)


@given(st.from_regex(r"[a-z][a-z0-9._]{0,12}[a-z0-9]", fullmatch=True),
       st.sampled_from(["example.com", "jiahe.com.cn", "163.com", "qq.com", "corp-mail.example.org"]),
       st.sampled_from(["{u}@{d}", "{u}＠{d}", "{u} @ {d}", "{u}[at]{d}", "{u} (at) {d}", "{u} at {dd}",
                        "mailto:{u}@{d}"]),
       AROUND, AROUND)
@MANY
def test_every_spelling_of_an_email_address_is_masked(user, domain, form, before, after):
    text = form.format(u=user, d=domain, dd=domain.replace(".", " dot "))
    out = mask_text(before + text + after)
    head = out.split("***")[0]
    assert "***" in out and head.endswith(user[0]) and not head.endswith(user), (text, out)  # its first letter only


@given(st.from_regex(r"o[A-Za-z0-9_-]{27}", fullmatch=True).filter(
    lambda s: re.search("[A-Z]", s) and re.search("[0-9]", s)), AROUND, AROUND)
@MANY
def test_wechat_openids_are_masked(openid, before, after):
    out = mask_text(before + openid + after)
    assert openid not in out and openid[3:-3] not in out


@given(st.from_regex(r"[a-zA-Z][a-zA-Z0-9_-]{5,19}", fullmatch=True),
       st.sampled_from(["微信：{}", "微信号 {}", "微信号{}", "WeChat: {}", "wechat id {}", "WX: {}", "vx：{}",
                        "V信: {}", "加微信：{}"]))
@MANY
def test_wechat_ids_after_a_label_are_masked(wid, form):
    out = mask_text(form.format(wid))
    assert wid not in out


# ---- what must stay -------------------------------------------------------------------------------------------

amounts = st.one_of(
    st.decimals(min_value=0, max_value=9_999_999_999, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.integers(0, 9_999_999_999).map(str),
    st.integers(0, 9_999_999_999).map(lambda n: f"{n:,}"),
    st.integers(0, 9_999_999_999).map(lambda n: f"¥{n:,}.00"),
    st.integers(-9_999_999_999, 9_999_999_999).map(lambda n: f"{n:+d}"),
    st.floats(0, 1e12, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.floats(0, 1e9, allow_nan=False).map(lambda x: f"{x:e}"),
    st.integers(0, 100).map(lambda n: f"{n}%"),
)
ids = st.one_of(
    st.from_regex(r"[A-Z]{1,3}[0-9]{1,18}", fullmatch=True),
    st.from_regex(r"[A-Z]{1,2}-[0-9]{4}-[0-9]{3,8}", fullmatch=True),
    st.integers(0, 10**10 - 1).map(str),  # up to 10 digits
    st.integers(10**11, 10**19).map(str),  # 12 digits and more (int64 ids)
    st.uuids().map(str),
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%Y/%m/%d %H:%M")),
    st.datetimes().map(lambda d: d.strftime("%Y%m%d")),
    st.datetimes().map(lambda d: d.strftime("%Y%m%d%H%M%S")),
    st.datetimes().map(lambda d: d.strftime("%d.%m.%Y")),
    st.datetimes().map(lambda d: d.strftime("%Y.%m.%d")),
    st.datetimes().map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S") + " UTC"),
    st.integers(0, 2_000_000_000).map(str),  # epoch seconds
)
ORDINARY = st.one_of(amounts, ids, dates)


@given(ORDINARY, AROUND, AROUND)
@settings(max_examples=600, deadline=None)
def test_ordinary_numbers_ids_and_dates_are_never_masked(value, before, after):
    text = before + value + after
    assert mask_text(text) == text


@given(st.lists(ORDINARY, min_size=1, max_size=5))
@MANY
def test_several_ordinary_values_in_one_text_stay(values):
    # Listed with commas (a run of bare numbers joined only by spaces can be spelled like a phone: 138 2026 1234).
    text = ", ".join(values)
    assert mask_text(text) == text


def test_examples_of_the_issue_and_their_masks():
    cases = {
        "01065521234": "010****1234",
        "(010) 6552 1235": "(010) **** 1235",
        "138.1234.5671": "138.****.5671",
        "+86 138 1234 5678": "+86 138 **** 5678",
        "１３８１２３４５６７８": "１３８****５６７８",
        "tel 010-65521234-801": "tel 010-****1234-801",
        "13812345678/13987654321": "138****5678/139****4321",
        "zhou.jianguo@jiahe.com": "z***@jiahe.com",
        "联系zhou@x.com电话13812345678": "联系z***@x.com电话138****5678",
        "微信：zhou_jg88": "微信：zho***g88",
        "wxid_abc123def": "wxi***def",
        "+44 20 7946 0958": "+44 20 **** 0958",
    }
    for text, masked in cases.items():
        assert mask_text(text) == masked, text
    for safe in ("WeChat Moments 朋友圈", "微信 Moments", "WeChat official account", "微信公众号",
                 "192.168.10.100", "13812345678.00", "1234567.89", "2026-01-05 10:00:00",
                 "L00000001", "987654321098765432", "华东区 / 华东一部", "wechat_openid", "required"):
        assert mask_text(safe) == safe, safe


def test_any_column_and_any_cell_shape_is_masked():
    df = pd.DataFrame({
        "table_key": ["crm/leads", "crm/leads", "crm/accounts"],
        "column_name": ["contact", "mobile", "remark"],
        "value": ["(010) 6552 1235", "12345", "１３８１２３４５６７８"],
        "message": ["'138.1234.5671' is not a date", "x", "see zhou@jiahe.com"],
        "amount": [1234567.89, 1381234.0, 3.0],
        "customer_phone": [13812345678, 13987654321, 15011112222],
        "mobile": [13812345678.0, None, 15011112222.0],
        "tags": [["wx: zhou_jg88", "ok"], [], ["+86 138 1234 5678"]],
    })
    out = mask_frame(df)
    text = out.astype(str).to_csv()
    for raw in ("6552", "13812345678", "1234.5671", "zhou@", "zhou_jg88", "１２３４５６７８", "13987654321"):
        assert raw not in text, raw
    assert out.value.tolist() == ["(010) **** 1235", "***", "１３８****５６７８"]  # a contact column's value whole
    assert out.amount.tolist() == df.amount.tolist()  # numbers that are not contact columns stay numbers
    assert out.customer_phone.tolist() == ["138****5678", "139****4321", "150****2222"]
    assert out.mobile[0] == "138****5678" and pd.isna(out.mobile[1])
    assert out.table_key.tolist() == df.table_key.tolist()
    assert df.value[0] == "(010) 6552 1235"  # the input is not changed


def test_server_paths_are_shortened_to_names_relative_to_the_raw_folder():
    df = pd.DataFrame({"message": ["no space left on /srv/closedloop/data", "/srv/raw/crm/leads.csv: row 3",
                                   "C:\\exports\\raw\\crm\\x.csv", "华东区 / 华东一部", "crm/leads.csv", "2026/01/05"],
                       "n": range(6)})
    out = hide_paths(df, ("/srv/raw", "C:\\exports\\raw"))
    assert out.message.tolist() == ["no space left on data", "crm/leads.csv: row 3", "crm/x.csv", "华东区 / 华东一部",
                                    "crm/leads.csv", "2026/01/05"]
    assert pii.short_path("/a/b/warehouse.duckdb") == "warehouse.duckdb"
