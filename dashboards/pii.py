"""Contact details by what a value *is*: phone numbers, e-mail addresses and WeChat ids in any spelling, found and
masked wherever they are (docs/access-control.md, "Masking"). The one detector and masker of the dashboards:
`dashboards.access` re-exports it and `queries.fetch` applies it to every frame a viewer without `see_pii` gets.

Spellings: text is first folded one character to one character (full-width digits, letters and punctuation, other
Unicode decimal digits, ideographic and non-breaking spaces, dashes, middle dots), so positions in the folded text
are positions in the original and a masked value keeps its own spelling (`１３８****５６７８`).

- Phone: a run of digits and separators (space, `-`, `.`, `/`, parentheses) that is a mainland mobile
  (`1[3-9]` + 9 digits, optionally after `86`/`+86`/`0086`), a mainland landline with its area code (`010`, `02x`,
  `0xxx` + a 7–8 digit number not starting with 0 or 1), a number after `+` (8–15 digits, E.164) or `00`, or a
  North-American `(212) 555-0123`. Groups joined by `.`/`-` without a space stay together, so dotted or dashed
  numbers that are not phones as a whole (dates, IP addresses, amounts with decimals) are never split into one.
  Masked: the four digits before the last four (`138****5678`, `(010) **** 1235`).
- E-mail: `local@domain` (also `＠`, `[at]`, `(at)`, ` at … dot …`), masked `z***@example.com`.
- WeChat: an openid/unionid (`o` + 27–28 base64url characters with a capital and a digit), a `wxid_…`, and any id
  written after a WeChat label (`微信：zhou_jg88`, `WeChat ID: …`, `vx …`); masked `o2G***kgM`.

Ordinary numbers stay: amounts (with decimals or thousands separators, up to 10 integer digits), ids (`L00000001`,
`987654321098765432`), dates and times in any common spelling; tests/test_pii_properties.py checks both sides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------------------------
# Folding: one character to one character
# ---------------------------------------------------------------------------------------------------------------

# Zero-width spaces and joiners (\u200b-\u200d, \u2060, \ufeff) fold to a space: pasted from chat apps or web pages
# they sit invisibly between digit groups (138\u200b1234\u200b5678), and must not hide a phone from the masker.
_SPACES = ("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
           "\u200b\u200c\u200d\u2060\ufeff")
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u00ad"
_DOTS = "\u00b7\u2022\u2027\u30fb\uff65"


class _Fold(dict):
    """A `str.translate` table built on demand (the ranges are too large to list)."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        if 0xFF01 <= cp <= 0xFF5E:  # full-width ASCII
            out = chr(cp - 0xFEE0)
        elif ch in _SPACES:
            out = " "
        elif ch in _DASHES:
            out = "-"
        elif ch in _DOTS:
            out = "."
        else:
            digit = unicodedata.decimal(ch, None)
            out = str(digit) if digit is not None else ch
        self[cp] = out
        return out


_FOLD = _Fold()


def fold(s: str) -> str:
    """`s` with every character in its plain ASCII form where it has one; always the same length as `s`."""
    return s.translate(_FOLD)


# ---------------------------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------------------------

_FULL_WIDTH_PHONE = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def normalised_phone(text: str | None) -> str | None:
    """A phone number the way staging stores it (macros/staging.sql `cl_phone`, whose cases this follows line by
    line; tests/test_identity_search.py holds the two to the same answers on one list of spellings): full-width
    digits folded, digits only; a mobile after 86 / 0086 keeps its 11 digits; any other number written +86 / 0086
    gets the trunk 0 back. None when no digit is left."""
    if text is None:
        return None
    raw = text.strip(" ").translate(_FULL_WIDTH_PHONE)
    digits = re.sub(r"[^0-9]", "", raw)
    if re.fullmatch(r"(?:0086|86)1[0-9]{10}", digits):
        value = digits[-11:]
    elif raw.startswith("+86"):
        value = "0" + digits[2:]
    elif raw.startswith("0086"):
        value = "0" + digits[4:]
    else:
        value = digits
    return value or None


# A run of digit groups; a Latin letter, digit or underscore glued to either end (or before a `-`/`.` in front of
# it: A-0010-000000) makes it part of an id.
_RUN = re.compile(r"(?<![0-9A-Za-z_+])(?<![0-9A-Za-z_][-.])"
                  r"(?:\(?\+)?\(?[0-9]+(?:[ \-./()]{1,3}[0-9]+)*\)?(?![0-9A-Za-z_])")
_GROUP = re.compile(r"[0-9]+")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"(?:010|02[0-9])[1-9][0-9]{7}|0[3-9][0-9]{2}[1-9][0-9]{6,7}")
_INTL_00 = re.compile(r"00[1-9][0-9]{7,13}")


def _is_break(sep: str) -> bool:
    """A separator that ends a number (a space or slash); `-`, `.` and parentheses alone bind groups together."""
    return " " in sep or "/" in sep


def _national(groups: list[str], seps: list[str]) -> bool:
    """Mainland mobile or landline (optionally after 86/0086), every group at least 3 digits. A mobile is one group
    or 3-4-4 / 4-4-3; 3-8 and 7-4 only when joined by `-` or `.` ("130 20000101" is two numbers, not a phone)."""
    sizes = [len(g) for g in groups]
    digits = "".join(groups)
    cc_stripped = False
    for cc in ("0086", "86"):
        if len(groups) > 1 and groups[0] == cc:
            sizes, digits, seps, cc_stripped = sizes[1:], digits[len(cc):], seps[1:], True
            break
        if digits.startswith(cc) and _MOBILE.fullmatch(digits[len(cc):]) and sizes[0] - len(cc) >= 3:
            sizes, digits = [sizes[0] - len(cc), *sizes[1:]], digits[len(cc):]
            break
        if (len(groups) > 1 and digits.startswith(cc) and sizes[0] - len(cc) in (2, 3)
                and _LANDLINE.fullmatch("0" + digits[len(cc):])):
            sizes, digits, cc_stripped = [sizes[0] - len(cc), *sizes[1:]], digits[len(cc):], True
            break
    # After the country code a landline drops its trunk 0: 86-10-65521234, 8610 6552 1234 (010 6552 1234).
    if (cc_stripped and len(sizes) > 1 and sizes[0] in (2, 3) and min(sizes[1:]) >= 3
            and _LANDLINE.fullmatch("0" + digits)):
        return True
    if min(sizes) < 3:
        return False
    if _MOBILE.fullmatch(digits):
        return sizes in ([11], [3, 4, 4], [4, 4, 3]) or (sizes in ([3, 8], [7, 4]) and " " not in seps[0])
    return bool(_LANDLINE.fullmatch(digits))


def _is_phone(groups: list[str], seps: list[str], plus: bool, paren_first: bool) -> bool:
    digits = "".join(groups)
    if len(groups) > 1 and seps[-1] == "." and len(groups[-1]) <= 2:
        return False  # 1234567.89: an amount
    if plus:
        return 8 <= len(digits) <= 15 and (len(groups) > 1 or len(digits) >= 11)
    if _national(groups, seps):
        return True
    if (len(groups) > 1 and 3 <= len(groups[0]) <= 5 and len(digits) >= 11 and all(" " in x for x in seps)
            and _INTL_00.fullmatch(digits)):
        return True  # 0044 20 7946 0958: 00 and the country code as the first group
    # North America: (212) 555-0123
    return paren_first and [len(g) for g in groups] == [3, 3, 4] and seps[1] in ("-", " ", ".")


def _phone_spans(folded: str) -> list[tuple[int, int]]:
    """(start, end) of every phone number in folded text."""
    spans = []
    for run in _RUN.finditer(folded):
        text, base = run.group(0), run.start()
        if text.isdigit():  # the common case: one bare number
            if len(text) >= 8 and _is_phone([text], [], False, False):
                spans.append(run.span())
            continue
        found = list(_GROUP.finditer(text))
        if sum(m.end() - m.start() for m in found) < 8:
            continue
        groups = [m.group(0) for m in found]
        seps = [text[a.end():b.start()] for a, b in zip(found, found[1:], strict=False)]
        lead = text[:found[0].start()]
        n, i = len(groups), 0
        while i < n:
            for j in range(n - 1, i - 1, -1):
                left_ok = i == 0 or _is_break(seps[i - 1])
                # An extension after a dash (010-65521234-801) still ends the number.
                right_ok = j == n - 1 or _is_break(seps[j]) or (j == n - 2 and seps[j] == "-" and len(groups[-1]) <= 5)
                plus = i == 0 and "+" in lead
                paren = (i == 0 and "(" in lead) or (i > 0 and seps[i - 1].endswith("("))
                if left_ok and right_ok and _is_phone(groups[i:j + 1], seps[i:j], plus, paren):
                    spans.append((base + (0 if i == 0 else found[i].start()), base + found[j].end()))
                    i = j
                    break
            i += 1
    return spans


def _hide_digits(chars: list[str], folded: str, start: int, end: int) -> None:
    positions = [k for k in range(start, end) if folded[k].isdigit()]
    for k in positions[-8:-4] if len(positions) >= 8 else positions[:-2]:
        chars[k] = "*"


# ---------------------------------------------------------------------------------------------------------------
# E-mail and WeChat
# ---------------------------------------------------------------------------------------------------------------

# Letters of a local part: ASCII, Latin with diacritics, Greek and Cyrillic (zhāng.wěi@…, андрей@…), so none of it
# is left in front of the mask. CJK is not among them, because Chinese text runs into an address without a space
# (联系zhou@…); a local part that is itself CJK (张伟@例子.公司) is _EMAIL_CJK's. Domains: any letters (IDN).
_LOCAL = "A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
# A domain label is Latin-script (bücher, 163, corp-mail) or wholly in another script (例子): never both, so the
# Chinese text after an address (zhou@x.com电话138…) is not taken for its domain and is still scanned.
_LABEL = rf"(?:[{_LOCAL}][{_LOCAL}-]*|[^\W\d_A-Za-z\u00c0-\u04ff]+)"
_EMAIL = re.compile(
    rf"(?<![{_LOCAL}_%+-])([{_LOCAL}][{_LOCAL}._%+-]*)"
    r"(\s*@\s*|\s*[\[({<]\s*at\s*[\])}>]\s*)"
    rf"({_LABEL}(?:\.{_LABEL})*)", re.IGNORECASE)
# An internationalised address whose local part ends in a CJK (non-Latin) letter: 张伟@例子.公司, 王.芳@jiahe.com.
# The domain must have a dot, so a chat mention (请@张伟处理) stays as it is.
_EMAIL_CJK = re.compile(rf"(?<![\w.%+-])([\w.%+-]*[^\x00-\u04ff\W])(\s*@\s*)({_LABEL}(?:\.{_LABEL})+)")
_DOT = r"(?:\.|\s+dot\s+|\s*[\[(]dot[\])]\s*)"
_EMAIL_WORDS = re.compile(  # zhou at jiahe dot com / zhou at jiahe.com
    rf"(?<![A-Za-z0-9_%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)(\s+at\s+)([A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}[A-Za-z]{{2,24}})"
    r"(?![A-Za-z0-9])", re.IGNORECASE)
_OPENID = re.compile(r"(?<![A-Za-z0-9_-])(?=o[A-Za-z0-9_-]*[A-Z])(?=o[A-Za-z0-9_-]*[0-9])o[A-Za-z0-9_-]{27,28}"
                     r"(?![A-Za-z0-9_-])")
_WXID = re.compile(r"(?<![A-Za-z0-9_-])wxid_[A-Za-z0-9_-]{4,}", re.IGNORECASE)
# An id after a WeChat label: English labels need a separator (`WeChat: …`, `wx id …`) so "WeChat official account"
# stays; Chinese ones a separator or none at all (`微信：…`, `微信号 …`, `微信zhou_jg88`; "微信 Moments" stays).
_WECHAT_LABEL = re.compile(
    r"(?:(?<![A-Za-z])(?:wechat|weixin|wx|vx|v信)(?:\s*(?:id|no\.?|number|号)\s*[:=：]?|\s*[:=：])\s*(?:是|为)?\s*"
    r"|(?:微信|薇信|威信)(?:(?:号|id|ID)\s*[:=：]?\s*|\s*[:=：]\s*|\s*(?:是|为)\s*"
    # after a space, only an id that looks like one (a digit or underscore in it): 微信 zhou_jg88, not 微信 Moments
    r"|\s+(?=[A-Za-z][A-Za-z-]*[0-9_])|))"
    r"([A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-])", re.IGNORECASE)
# Cheap test before the real ones: most cells (names, ids, rules) have none of these.
_MAYBE = re.compile(r"[0-9@]|at|wx|vx|we|微|薇|威|v信", re.IGNORECASE)


def mask_id(s: str) -> str:
    return f"{s[:3]}***{s[-3:]}" if len(s) >= 9 else "***"


def _replace(chars: list[str], start: int, end: int, text: str) -> None:
    """Put `text` over chars[start:end] (one list item per original character, so later spans stay aligned)."""
    chars[start:end] = [text] + [""] * (end - start - 1)


# ---------------------------------------------------------------------------------------------------------------
# The masker
# ---------------------------------------------------------------------------------------------------------------

def _matches(folded: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every contact detail in folded text, in detection order (e-mail, phone, WeChat); each
    detector runs only when a cheap test says it could find something (most cells: none does)."""
    found: list[tuple[int, int, str]] = []
    lower = folded.lower()
    if "@" in folded or "at" in lower:
        for pattern in (_EMAIL, _EMAIL_WORDS, _EMAIL_CJK):
            found += [(m.start(), m.end(), f"email:{m.start(1)}:{m.end(1)}") for m in pattern.finditer(folded)]
    if _EIGHT_DIGITS.search(folded):
        found += [(a, b, "phone") for a, b in _phone_spans(folded)]
    found += [(m.start(), m.end(), "id") for m in _OPENID.finditer(folded)]
    if "wxid_" in lower:
        found += [(m.start(), m.end(), "id") for m in _WXID.finditer(folded)]
    if _LABEL_HINT.search(lower):
        found += [(m.start(1), m.end(1), "id") for m in _WECHAT_LABEL.finditer(folded)]
    return found


_EIGHT_DIGITS = re.compile(r"[0-9](?:[^0-9]{0,3}[0-9]){7}")  # a phone has at least 8 digits close together
_LABEL_HINT = re.compile(r"wechat|weixin|wx|vx|v信|微信|薇信|威信")


def mask_text(s):
    """Every e-mail, phone number and WeChat id inside `s`, in any spelling, masked; anything else unchanged.
    Non-text values are returned as they are."""
    if not isinstance(s, str) or not s:
        return s
    folded = fold(s)
    if not _MAYBE.search(folded):
        return s
    found = _matches(folded)
    if not found:
        return s
    chars = list(s)
    taken = [False] * len(s)
    for a, b, kind in found:
        if any(taken[a:b]):
            continue  # inside an e-mail already masked (13812345678@163.com), or found twice
        taken[a:b] = [True] * (b - a)
        if kind == "phone":
            _hide_digits(chars, folded, a, b)
        elif kind == "id":
            _replace(chars, a, b, mask_id(s[a:b]))
        else:
            u, v = (int(x) for x in kind.split(":")[1:])
            _replace(chars, u, v, s[u] + "***")
    return "".join(chars)


def mask_value(s):
    """A whole contact value (a column named like e-mail/phone/WeChat): masked even when it has an odd shape."""
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        s = str(s)
    if not isinstance(s, str) or not s.strip():
        return s
    masked = mask_text(s)
    if masked != s:
        return masked
    if "@" in s:
        return s[:1] + "***@" + s.rsplit("@", 1)[1]
    return mask_id(s.strip())


def mask_any(v, whole: bool = False):
    """`mask_text` (or `mask_value` when `whole`) through lists, arrays and mappings (DuckDB LIST/STRUCT cells)."""
    if isinstance(v, str):
        return mask_value(v) if whole else mask_text(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [mask_any(x, whole) for x in v]
    if isinstance(v, Mapping):
        return {k: mask_any(x, whole) for k, x in v.items()}
    if whole and isinstance(v, (float, np.floating)) and v == v and float(v).is_integer():
        return mask_value(str(int(v)))  # a phone column read as numbers: 13812345678.0
    if whole and isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return mask_value(v)
    return v


PII_COLUMN = re.compile(r"e[-_]?mail|phone|mobile|(^|_)tel(_|$)|telephone|wechat|weixin|openid|unionid|"
                        r"微信|手机|电话|邮箱|联系方式", re.IGNORECASE)


def _map_unique(values: pd.Series, fn) -> pd.Series:
    """fn over the distinct values only (rows set aside repeat table, rule, file and column in every row)."""
    try:
        uniques = pd.unique(values.dropna())
    except TypeError:  # unhashable cells (lists): one by one
        return values.map(fn)
    table = {u: fn(u) for u in uniques}
    return values.map(lambda v: table.get(v, v) if _hashable(v) else fn(v))


def _hashable(v) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with contact details masked: every value of a column named like e-mail/phone/WeChat (also
    numbers), the `value` of long-format rows whose `column_name` is such a column (the rows set aside), and any
    e-mail, phone number or WeChat id inside any other text cell, whatever its column."""
    if df.empty:
        return df
    out = df.copy()
    pii_rows = None
    if "column_name" in out.columns:
        pii_rows = out["column_name"].map(lambda v: isinstance(v, str) and bool(PII_COLUMN.search(v)))
    for c in out.columns:
        values = out[c]
        textual = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
        if PII_COLUMN.search(str(c)):
            if textual or numeric:
                out[c] = values.astype(object).map(lambda v: mask_any(v, whole=True))
            continue
        if not textual:
            continue  # numbers, dates, booleans: not contact details by themselves
        masked = _map_unique(values, mask_any)
        if pii_rows is not None and c == "value" and pii_rows.any():
            masked = masked.copy()
            masked[pii_rows] = values[pii_rows].map(lambda v: mask_any(v, whole=True))
        out[c] = masked
    return out


# ---------------------------------------------------------------------------------------------------------------
# Server paths: for viewers without the `server_paths` right (docs/access-control.md)
# ---------------------------------------------------------------------------------------------------------------

_SEG = r"[^\s/\\'\"`,;:()\[\]{}<>|*?]+"
# /srv/data/raw/crm/leads.csv, ~/closedloop/data, C:\data\raw\x.csv (at least two segments: "/2026" is not a path).
_ABS_PATH = re.compile(rf"(?<![\w.~/:\\-])(?:~?/{_SEG}(?:/{_SEG})+/?|~/{_SEG}|[A-Za-z]:[\\/]{_SEG}(?:[\\/]{_SEG})*)")


def short_path(path: str, roots: tuple[str, ...] = ()) -> str:
    """`path` relative to the first of `roots` (longest first) it lies under, else its last component."""
    norm = path.replace("\\", "/").rstrip("/")
    for root in sorted((r.replace("\\", "/").rstrip("/") for r in roots if r), key=len, reverse=True):
        if norm.startswith(root + "/"):
            return norm[len(root) + 1:]
    return norm.rsplit("/", 1)[-1] or path


def hide_paths_text(s, roots: tuple[str, ...] = ()):
    """Every absolute path inside `s` shortened (`short_path`); anything else unchanged."""
    if not isinstance(s, str) or ("/" not in s and "\\" not in s):
        return s
    return _ABS_PATH.sub(lambda m: short_path(m.group(0), roots), s)


def hide_paths(df: pd.DataFrame, roots: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of `df` whose text cells name files relative to `roots` (the raw folder) or by name, never by the
    server's absolute path."""
    cols = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)]
    if df.empty or not cols:
        return df
    out = df.copy()
    for c in cols:
        out[c] = _map_unique(out[c], lambda v: _deep(v, lambda x: hide_paths_text(x, roots)))
    return out


def _deep(v, fn):
    if isinstance(v, str):
        return fn(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_deep(x, fn) for x in v]
    if isinstance(v, Mapping):
        return {k: _deep(x, fn) for k, x in v.items()}
    return v
