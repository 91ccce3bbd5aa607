"""Follow-ups (docs/metrics.md#follow-up-status) on the sample: fct_followups against an independent pandas computation
from the raw files (tests/independent/followups.py), the planted per-department timeliness of truth.json, every
planted spelling of a reason matched, and the SQL's traditional → simplified table against OpenCC."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import opencc
import pandas as pd
import pytest
from independent import followups as FU
from independent.raw import Raw

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def raw(sample) -> Raw:
    return Raw(sample.raw)


@pytest.fixture(scope="module")
def expected(raw: Raw, mart) -> pd.DataFrame:
    lead_persons = mart("fct_leads")[["lead_id", "person_id"]]
    touches = mart("fct_touches")[["person_id", "touched_at", "touch_type"]]
    accounts = mart("dim_person").dropna(subset=["account_id"]).set_index("person_id")["account_id"]
    return FU.followups(raw, lead_persons, touches, accounts)


@pytest.fixture(scope="module")
def actual(mart) -> pd.DataFrame:
    return mart("fct_followups")


def test_status_counts_match_independent(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    mine = expected.groupby(["entity_type", "status"]).size()
    theirs = actual.groupby(["entity_type", "status"]).size()
    assert mine.to_dict() == theirs.to_dict()
    assert {"done", "overdue", "due", "upcoming"} <= set(actual["status"])
    assert set(actual["entity_type"]) == {"lead", "opportunity"}


def test_each_followup_matches_independent(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    both = expected.merge(actual, on="followup_id", how="outer", suffixes=("_x", ""), indicator=True)
    assert (both["_merge"] == "both").all(), both["_merge"].value_counts()
    for col in ("reason", "status", "owner_user_id", "department_id", "is_recovered"):
        diff = both[both[f"{col}_x"].astype(str) != both[col].astype(str)]
        assert diff.empty, (col, diff[["followup_id", f"{col}_x", col]].head())
    for col in ("due_at", "done_at"):
        a, b = pd.to_datetime(both[f"{col}_x"]), pd.to_datetime(both[col])
        assert ((a == b) | (a.isna() & b.isna())).all(), col
    # a rep who left hands the follow-up to the department head
    assert (actual["owner_user_id"] != actual["given_by_user_id"]).any()


@pytest.mark.parametrize("entity", ["opportunity", "lead"])
def test_planted_on_time_share_per_department(sample, expected: pd.DataFrame, entity: str) -> None:
    """Lost deals' accounts are called, and disqualified leads reached by a marketing touch, on time with a planted
    probability per department; truth.json counts the recontacts each department's follow-ups actually got (on
    time, late, none: fewer on time than the probability says where the owner left before the call). Every planted
    on-time recontact is found, and other recontacts (account care, the person's own touches, new leads) only add
    to them, so per department the on-time count is at least the planted one, the share sits at or above the
    realised planted share, and the departments keep the order of their planted probabilities."""
    probability = sample.truth["followups"]["on_time_planted"]
    realised = sample.truth["followups"]["planted_recontacts"][entity]
    fu = expected[expected["entity_type"] == entity].copy()
    fu = fu[fu["status"].eq("overdue") | fu["done_at"].notna()]
    fu["on_time"] = fu["done_at"].notna() & (fu["done_at"] <= fu["due_at"] + FU.GRACE)
    share = fu.groupby("department_id")["on_time"].agg(["mean", "sum", "size"])
    rows = []
    for dept_id, row in share.iterrows():
        key = next((k for k in realised if str(dept_id).endswith(k)), None)  # D110 is department 110
        if key is None or row["size"] < 30:
            continue
        planted = realised[key]
        assert row["sum"] >= planted["on_time"], (dept_id, row["sum"], planted)
        p = planted["on_time"] / sum(planted.values())
        tol = 3 * (p * (1 - p) / row["size"]) ** 0.5
        assert row["mean"] >= p - tol, (dept_id, row["mean"], p)
        rows.append((probability[key], row["mean"]))
    assert len(rows) >= 5, rows
    assert pd.Series([m for _, m in rows]).corr(pd.Series([p for p, _ in rows]), method="spearman") > 0.7, rows


def test_every_planted_spelling_matches(sample, mart) -> None:
    reasons = mart("fct_feedback_reasons").set_index("feedback_text")
    truth = sample.truth["followups"]
    seen = 0
    for reason, variants in truth["variant_spellings"].items():
        for text in variants:
            key = text.strip().strip("\u3000")
            if key in reasons.index:  # staging trims the spaces of a padded spelling: it then is the reason itself
                assert reasons.loc[key, "reason"] == reason, (text, reasons.loc[key].to_dict())
                seen += 1
    assert seen >= 12, seen
    for text in truth["unmatched_spellings"]:
        assert reasons.loc[text, "reason"] == "other" and reasons.loc[text, "is_unmatched"]


def test_traditional_table_covers_the_seed() -> None:
    """macros/followups.sql maps every traditional character OpenCC folds onto a character of the seed's reasons and
    aliases; a seed edit with a new character fails here and prints the two strings to paste."""
    chars: set[str] = set()
    with (ROOT / "seeds" / "lead_feedback_reasons.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for text in [row["reason"], *(row["aliases"] or "").split("|")]:
                chars |= set(text)
    t2s = opencc.OpenCC("t2s")
    pairs = [(chr(c), t2s.convert(chr(c))) for c in range(0x4E00, 0xA000)]
    needed = {(t, s) for t, s in pairs if t != s and s in chars}
    macro = (ROOT / "macros" / "followups.sql").read_text(encoding="utf-8")
    trad = re.search(r"cl_feedback_traditional\(\) -%\}\s*\{\{ return\('([^']*)'\)", macro).group(1)
    simp = re.search(r"cl_feedback_simplified\(\) -%\}\s*\{\{ return\('([^']*)'\)", macro).group(1)
    have = set(zip(trad, simp, strict=True))
    missing = sorted(needed - have)
    assert not missing, ("add to macros/followups.sql", "".join(t for t, _ in sorted(needed)),
                         "".join(s for _, s in sorted(needed)))


# ---- the Follow-ups page (AppTest) against the independent counts -------------------------------------------------

def test_followups_page_shows_the_independent_counts(sample, expected: pd.DataFrame, monkeypatch) -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    from test_dashboard_apptest import assert_clean, metric, run

    from dashboards import queries as q

    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    at = run("followups", lang="English")
    assert_clean(at)
    counts = expected["status"].value_counts()
    for status, label in (("overdue", "Overdue"), ("due", "Due"), ("upcoming", "Upcoming")):
        assert metric(at, label).value.replace(",", "") == str(int(counts.get(status, 0))), status
    closed = expected[expected["done_at"].notna() | (expected["status"] == "overdue")]
    on_time = (closed["done_at"].notna() & (closed["done_at"] <= closed["due_at"] + FU.GRACE)).mean()
    assert metric(at, "Done on time").value == f"{on_time:.0%}"
    # the to-do list holds every due and overdue follow-up, overdue first
    todo = next(df.value for df in at.dataframe if "Next action" in df.value.columns)
    n_todo = int(counts.get("overdue", 0) + counts.get("due", 0))
    assert len(todo) == min(n_todo, 2000)  # the screen shows the first 2,000; the caption and the Excel file all
    assert f"{n_todo:,} rows" in "\n".join(c.value for c in at.caption)
    status = list(todo["Status"])
    assert status == sorted(status, key=lambda s: 0 if s == "Overdue" else 1)
    assert {"Department", "Owner", "Due", "Value"} <= set(todo.columns)
    assert any("Excel" in b.label for b in at.get("download_button")), "no XLSX export of the list"
