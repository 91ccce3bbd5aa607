"""Vectorised text building with Arrow: ids, Chinese names, companies, e-mails, phones, tokens.

Everything here turns numpy code arrays into Arrow string arrays without a Python loop
per row; per-row Python string formatting would be the bottleneck at scale 1000.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import vocab as V


@cache
def arr(values: tuple[str, ...]) -> pa.Array:
    return pa.array(values, pa.string())


def take(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Strings for codes; code < 0 gives null."""
    codes = np.asarray(codes)
    mask = codes < 0
    idx = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    return arr(values).take(idx)


def join(*parts: object, sep: str = "") -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, sep)


def fmt_ids(prefix: str, nums: np.ndarray, width: int) -> pa.Array:
    """'L' + zero-padded number; negative numbers are null."""
    nums = np.asarray(nums, dtype=np.int64)
    mask = nums < 0
    digits = pc.utf8_lpad(pc.cast(pa.array(np.where(mask, 0, nums)), pa.string()), width, "0")
    out = join(prefix, digits)
    if mask.any():
        out = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    return out


def tokens(rng: np.random.Generator, n: int, length: int, alphabet: str, prefix: str = "") -> pa.Array:
    """Random identifier strings (cookies, device ids, WeChat openids) built straight into Arrow buffers."""
    table = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    body = table[rng.integers(0, len(table), size=(n, length), dtype=np.uint8)]
    if prefix:
        pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
        body = np.concatenate([np.broadcast_to(pre, (n, len(pre))), body], axis=1)
    width = body.shape[1]
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    data = pa.py_buffer(np.ascontiguousarray(body).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


HEX = "0123456789abcdef"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Zipf-like weights: a few surnames are very common in China.
_SUR_W = 1.0 / np.arange(1, len(V.SURNAMES) + 1) ** 0.7
SUR_P = _SUR_W / _SUR_W.sum()
SUR_ZH = tuple(s for s, _ in V.SURNAMES)
SUR_PY = tuple(p for _, p in V.SURNAMES)
GIV_ZH = tuple(s for s, _ in V.GIVEN_NAMES)
GIV_PY = tuple(p for _, p in V.GIVEN_NAMES)
BRAND_ZH = tuple(s for s, _ in V.BRANDS)
BRAND_PY = tuple(p for _, p in V.BRANDS)


def person_codes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.choice(len(SUR_ZH), size=n, p=SUR_P), rng.integers(0, len(GIV_ZH), size=n)


def person_names(sur: np.ndarray, giv: np.ndarray) -> pa.Array:
    return join(take(SUR_ZH, sur), take(GIV_ZH, giv))


# Company names: city + brand + industry word + legal form, flattened to code tables once.
_CITY_LIST = tuple(c for r in V.REGIONS for c in V.CITIES[r])
_CITY_START = np.cumsum([0] + [len(V.CITIES[r]) for r in V.REGIONS])
_IND_WORDS = tuple(w for ws in V.INDUSTRY_WORDS for w in ws)
_IND_START = np.cumsum([0] + [len(ws) for ws in V.INDUSTRY_WORDS])


def company_codes(rng: np.random.Generator, region: np.ndarray, industry: np.ndarray) -> dict[str, np.ndarray]:
    n = len(region)
    city_n = np.diff(_CITY_START)[region]
    word_n = np.diff(_IND_START)[industry]
    return {
        "city": _CITY_START[region] + (rng.random(n) * city_n).astype(np.int64),
        "brand": rng.integers(0, len(BRAND_ZH), size=n),
        "word": _IND_START[industry] + (rng.random(n) * word_n).astype(np.int64),
        "form": rng.choice(len(V.COMPANY_FORMS), size=n, p=[0.7, 0.2, 0.1]),
    }


def company_names(c: dict[str, np.ndarray]) -> pa.Array:
    return join(take(_CITY_LIST, c["city"]), take(BRAND_ZH, c["brand"]), take(_IND_WORDS, c["word"]),
                take(V.COMPANY_FORMS, c["form"]))


def company_short(c: dict[str, np.ndarray]) -> pa.Array:
    """'恒信机械制造' -- how sales people name a customer in an opportunity title."""
    return join(take(BRAND_ZH, c["brand"]), take(_IND_WORDS, c["word"]))


def emails(rng: np.random.Generator, sur: np.ndarray, giv: np.ndarray, brand: np.ndarray) -> pa.Array:
    """Canonical (clean, lower-case) e-mail per person: work address or a free mailbox."""
    n = len(sur)
    num = pc.cast(pa.array(rng.integers(1, 999, size=n)), pa.string())
    work = join(take(SUR_PY, sur), ".", take(GIV_PY, giv), "@", take(BRAND_PY, brand),
                take(V.DOMAIN_SUFFIXES, rng.integers(0, len(V.DOMAIN_SUFFIXES), size=n)))
    free = join(take(SUR_PY, sur), take(GIV_PY, giv), num, "@",
                take(V.FREE_MAIL, rng.integers(0, len(V.FREE_MAIL), size=n)))
    qq = join(pc.cast(pa.array(rng.integers(10_000_000, 3_000_000_000, size=n)), pa.string()), "@qq.com")
    style = rng.random(n)
    return pc.if_else(pa.array(style < 0.62), work, pc.if_else(pa.array(style < 0.9), free, qq))


def noisy_emails(rng: np.random.Generator, clean: pa.Array) -> pa.Array:
    """As typed into forms: sometimes upper-case, sometimes with surrounding spaces."""
    n = len(clean)
    u = rng.random(n)
    out = pc.if_else(pa.array(u < 0.05), pc.utf8_upper(clean), clean)
    return pc.if_else(pa.array(u > 0.96), join(" ", out, " "), out)


def phone_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """Canonical 11-digit mobile numbers."""
    tail = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100_000_000, size=n)), pa.string()), 8, "0")
    return join(take(V.MOBILE_PREFIXES, rng.integers(0, len(V.MOBILE_PREFIXES), size=n)), tail)


_FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def noisy_phones(rng: np.random.Generator, clean: pa.Array) -> pa.Array:
    """Mobile numbers as people write them: mostly 13812345678; some '+86 138-1234-5678', '86 13812345678',
    '0086 13812345678', '138 1234 5678' or in full-width digits (１３８…). Values that are not 11 characters
    starting with 1 (a landline such as '010-6552 8888', a row of zeros) are kept as typed."""
    n = len(clean)
    u = pa.array(rng.random(n))
    mobile = pc.fill_null(pc.and_(pc.equal(pc.utf8_length(clean), 11), pc.starts_with(clean, "1")), False)
    a, b, c = (pc.utf8_slice_codeunits(clean, lo, hi) for lo, hi in ((0, 3), (3, 7), (7, 11)))
    dashed = join("+86 ", a, "-", b, "-", c)
    spaced = join("86 ", clean)
    out = pc.if_else(pc.less(u, 0.09), dashed, pc.if_else(pc.less(u, 0.14), spaced, clean))
    out = pc.if_else(pc.and_(pc.greater_equal(u, 0.14), pc.less(u, 0.17)), join("0086 ", clean), out)
    out = pc.if_else(pc.and_(pc.greater_equal(u, 0.17), pc.less(u, 0.20)), join(a, " ", b, " ", c), out)
    out = pc.if_else(mobile, out, clean)
    wide = np.flatnonzero(np.asarray(pc.fill_null(pc.and_(mobile, pc.greater_equal(u, 0.97)), False)))
    if len(wide) == 0:
        return out
    fw = clean.take(pa.array(wide))
    for digit, full in _FULL_WIDTH.items():
        fw = pc.replace_substring(fw, digit, full)
    return patch(out, wide, fw)


def patch(values: pa.Array, rows: np.ndarray, new: pa.Array) -> pa.Array:
    """values with values[rows[i]] replaced by new[i]."""
    if len(rows) == 0:
        return values
    index = np.arange(len(values))
    index[rows] = len(values) + np.arange(len(rows))
    return pa.concat_arrays([values, new.cast(values.type)]).take(pa.array(index))


def unique_emails(values: pa.Array) -> pa.Array:
    """A repeated address gets a number before the '@' (wang.wei@x.com, wang.wei2@x.com): two people with one
    name at one company do not share a mailbox. The first occurrence keeps the plain address; rounds repeat
    until no address repeats (a numbered address may itself be taken)."""
    out = values
    while True:
        codes = np.asarray(pc.dictionary_encode(out).indices.fill_null(-1))
        order = np.argsort(codes, kind="stable")
        sc = codes[order]
        start = np.r_[True, sc[1:] != sc[:-1]]
        group_start = np.maximum.accumulate(np.where(start, np.arange(len(sc)), 0))
        rank = np.empty(len(sc), np.int64)
        rank[order] = np.arange(len(sc)) - group_start
        rank[codes < 0] = 0
        if not (rank > 0).any():
            return out
        prev = out
        for k in np.unique(rank[rank > 0]):
            rows = np.flatnonzero(rank == k)
            out = patch(out, rows, pc.replace_substring(prev.take(pa.array(rows)), "@", f"{k + 1}@",
                                                        max_replacements=1))


def null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)
