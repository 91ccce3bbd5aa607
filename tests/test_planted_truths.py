"""The marts recover what the generator planted (truth.json of the session sample).

Two kinds of check per truth:
- realised: where truth.json recounts the written rows under the docs/metrics.md definition the mart documents, the
  mart's counts must be equal (rates then agree to 1e-9);
- planted: the probability the simulation used must lie within 4 standard errors of the mart's rate,
  sqrt(p(1-p)/n) with p the planted probability and n the mart's own denominator (so the tolerance shrinks as
  the sample grows). Identities that hold by construction (cost per lead) are held to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

K_SE = 4.0
Z95 = 1.959963984540054


def _within(rate: float, planted: float, n: int) -> tuple[bool, float]:
    tol = K_SE * math.sqrt(planted * (1 - planted) / n)
    return abs(rate - planted) <= tol, tol


def _period(entry: dict, truth: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    lo, hi = (truth["window_start"], truth["window_end"]) if entry["period"] == "all" else entry["period"].split("/")
    return pd.Timestamp(lo), pd.Timestamp(hi)


@pytest.fixture(scope="module")
def truth(sample) -> dict:
    return sample.truth


@pytest.fixture(scope="module")
def step_rows(truth: dict, mart) -> pd.DataFrame:
    sc = mart("fct_stage_conversion")
    sc["cohort_month"] = pd.to_datetime(sc["cohort_month"])
    return sc[sc["stage_name"] == truth["stage_step"]["from_stage"]]


def _sum_counts(rows: pd.DataFrame) -> dict[str, int]:
    return {c: int(rows[c].sum()) for c in ("reached", "advanced", "lost", "open")}


# ---------------------------------------------------------------- stage step 方案交流 → 招投标

def _department_entries(truth: dict) -> list[dict]:
    return truth["stage_step"]["by_department"]


def test_stage_step_counts_per_department(truth: dict, step_rows: pd.DataFrame) -> None:
    """Realised: the mart's cohorts summed over the truth's period equal the generator's recount."""
    problems = []
    for e in _department_entries(truth):
        lo, hi = _period(e, truth)
        rows = step_rows[(step_rows["department_id"] == e["department_id"])
                         & (step_rows["cohort_month"] >= lo) & (step_rows["cohort_month"] <= hi)]
        got = _sum_counts(rows)
        want = {c: e[c] for c in got}
        if got != want:
            problems.append(f"{e['department_id']} {e['name']} {e['period']}: mart {got} != truth {want}")
    assert not problems, "stage step counts (fct_stage_conversion vs truth.json):\n" + "\n".join(problems)


def test_stage_step_counts_company(truth: dict, step_rows: pd.DataFrame) -> None:
    lo, hi = pd.Timestamp(truth["window_start"]), pd.Timestamp(truth["window_end"])
    company = step_rows[step_rows["department_id"].isna() & (step_rows["cohort_month"] >= lo)
                        & (step_rows["cohort_month"] <= hi)]
    want = {c: truth["stage_step"]["company_counts"][c] for c in ("reached", "advanced", "lost", "open")}
    assert _sum_counts(company) == want


def test_stage_step_planted_rate(truth: dict, step_rows: pd.DataFrame) -> None:
    """Planted: each department's rate (per period for the one whose rate drops) within 4 SE."""
    problems, seen = [], []
    for e in _department_entries(truth):
        lo, hi = _period(e, truth)
        rows = step_rows[(step_rows["department_id"] == e["department_id"]) & (step_rows["cohort_month"] >= lo)
                         & (step_rows["cohort_month"] <= hi)]
        c = _sum_counts(rows)
        decided = c["reached"] - c["open"]
        if decided == 0:
            problems.append(f"{e['department_id']} has no decided deals at 方案交流 in {e['period']}")
            continue
        rate = c["advanced"] / decided
        ok, tol = _within(rate, e["rate"], decided)
        line = (f"{e['department_id']} {e['name']} {e['period']}: mart rate {rate:.4f} (n={decided}) vs planted "
                f"{e['rate']} ± {tol:.4f}")
        seen.append(line)
        if not ok:
            problems.append(line)
    assert seen, "truth.json has no department entries"
    assert not problems, "outside 4 SE:\n" + "\n".join(problems)


def _planted_by_row(truth: dict, rows: pd.DataFrame) -> pd.Series:
    """Planted 方案交流 rate of each department row of fct_stage_conversion: the truth's rate for the department and
    cohort (a dropping department's later rate from its later period's start), the company base rate elsewhere."""
    base = truth["stage_step"]["company_rate"]
    planted = pd.Series(base, index=rows.index, dtype="float64")
    by_dept: dict[str, list[dict]] = {}
    for e in _department_entries(truth):
        by_dept.setdefault(e["department_id"], []).append(e)
    for dept, entries in by_dept.items():
        mine = rows["department_id"] == dept
        if len(entries) == 1:
            planted[mine] = entries[0]["rate"]
            continue
        # a rate that changes: the earlier rate holds for every cohort before the later period starts
        entries = sorted(entries, key=lambda e: _period(e, truth)[0])
        planted[mine] = entries[0]["rate"]
        for e in entries[1:]:
            planted[mine & (rows["cohort_month"] >= _period(e, truth)[0])] = e["rate"]
    return planted


def test_stage_step_company_rate(truth: dict, step_rows: pd.DataFrame) -> None:
    """Planted: the company rate is the mixture of the departments' planted rates, weighted by the mart's decided
    deals of each department and cohort; within 4 SE of it."""
    dept = step_rows[step_rows["department_id"].notna()]
    decided = dept["reached"] - dept["open"]
    expected = float((_planted_by_row(truth, dept) * decided).sum() / decided.sum())
    company = step_rows[step_rows["department_id"].isna()]
    n = int((company["reached"] - company["open"]).sum())
    rate = company["advanced"].sum() / n
    ok, tol = _within(rate, expected, n)
    assert ok, f"company 方案交流 rate {rate:.4f} (n={n}) vs planted mixture {expected:.4f} ± {tol:.4f}"


def _expected_z(p1: float, n1: int, p2: float, n2: int) -> float:
    """The z a pooled two-proportion test expects (normal approximation) when the true rates are p1 and p2."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0
    return (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))


def _half_year(months: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.DataFrame({"year": months.dt.year, "month": np.where(months.dt.month <= 6, 1, 7),
                                        "day": 1}))


def test_significance_flags_follow_planted_rates(truth: dict, step_rows: pd.DataFrame, mart) -> None:
    """fct_department_comparison (half-years, 方案交流 step, department vs rest of the company) flags what was
    planted whenever the sample allows it. From the planted rate of every department × cohort and the mart's own
    decided counts, each row gets an expected z and a power (P(|z| >= 1.96) in the planted direction); then
    - a row whose expected |z| >= 1.96 + 3 must be 'significant', in the planted direction;
    - a department whose rows would all miss with probability < 1e-3 must be flagged in at least one of them
      (the better department at the default scale: about 0.9 power in each half-year);
    - no row is 'significant' against the planted direction when that direction is clear (|expected z| >= 1)."""
    from scipy.stats import norm

    dept_rows = step_rows[step_rows["department_id"].notna()].copy()
    dept_rows["decided"] = dept_rows["reached"] - dept_rows["open"]
    dept_rows["planted_advanced"] = _planted_by_row(truth, dept_rows) * dept_rows["decided"]
    dept_rows["period_start"] = _half_year(dept_rows["cohort_month"])
    per = dept_rows.groupby(["period_start", "department_id"])[["decided", "planted_advanced"]].sum().reset_index()
    company = per.groupby("period_start")[["decided", "planted_advanced"]].sum().add_prefix("company_").reset_index()
    per = per.merge(company, on="period_start")

    dc = mart("fct_department_comparison")
    dc = dc[(dc["period_grain"] == "half_year") & (dc["metric"] == "stage_conversion")
            & (dc["stage_name"] == truth["stage_step"]["from_stage"]) & dc["department_id"].notna()]
    dc = dc.assign(period_start=pd.to_datetime(dc["period_start"])).merge(per, on=["period_start", "department_id"])
    assert (dc["decided"] == dc["denominator"]).all(), "fct_department_comparison and fct_stage_conversion disagree"

    problems, required, notes = [], [], []
    for dept, rows in dc.groupby("department_id"):
        miss_all, flagged_right = 1.0, 0
        for r in rows.itertuples(index=False):
            n1, n2 = int(r.denominator), int(r.rest_denominator)
            if n1 == 0 or n2 == 0 or r.significance == "too_few":
                continue
            p1 = r.planted_advanced / n1
            p2 = (r.company_planted_advanced - r.planted_advanced) / n2
            z_exp = _expected_z(p1, n1, p2, n2)
            direction = np.sign(z_exp)
            observed = np.sign(r.rate - r.rest_rate)
            right = r.significance == "significant" and observed == direction
            flagged_right += right
            miss_all *= 1 - float(norm.cdf(abs(z_exp) - Z95))
            label = (f"{dept} {r.period_start.date()}: {r.numerator}/{n1} vs rest {r.rest_numerator}/{n2}, "
                     f"z={r.z:.2f} {r.significance}; planted {p1:.3f} vs {p2:.3f}, expected z={z_exp:.2f}")
            if abs(z_exp) >= Z95 + 3 and not right:
                problems.append("not flagged although the sample allows it: " + label)
            if abs(z_exp) >= 1 and r.significance == "significant" and observed != direction:
                problems.append("significant against the planted direction: " + label)
        if miss_all < 1e-3:
            required.append(dept)
            if not flagged_right:
                problems.append(f"{dept}: never flagged, although missing every half-year had probability "
                                f"{miss_all:.1e} under the planted rates")
        notes.append(f"{dept}: P(no flag)={miss_all:.2g}, flagged={flagged_right}")
    assert not problems, "\n".join(problems) + "\n" + "; ".join(notes)
    better = max(_department_entries(truth), key=lambda e: e["rate"])["department_id"]
    if better not in required:
        pytest.skip(f"the sample is too small to require the better department's flag ({'; '.join(notes)})")


# ---------------------------------------------------------------- lead flow

def test_channel_cost_per_lead(truth: dict, mart) -> None:
    """Exact by construction: spend of a channel's campaigns / leads of its campaigns, whole window, to 1e-6."""
    roi = mart("fct_campaign_roi")
    per_channel = roi.groupby("channel")[["spend", "leads"]].sum()
    got = (per_channel["spend"].astype("float64") / per_channel["leads"]).to_dict()
    problems = [f"{ch}: mart {got.get(ch)} vs truth {want}" for ch, want in truth["channel_cost_per_lead"].items()
                if got.get(ch) is None or abs(got[ch] - want) > 1e-6]
    assert not problems, "cost per lead by channel (fct_campaign_roi):\n" + "\n".join(problems)
    for ch, planted in truth["channel_cost_per_lead_planted"].items():
        assert abs(got[ch] - planted) <= 1e-6, f"{ch}: {got[ch]} vs planted {planted}"


def test_sla_compliance(truth: dict, mart) -> None:
    leads = mart("fct_leads")
    met, missed = int((leads["sla_status"] == "met").sum()), int((leads["sla_status"] == "missed").sum())
    assert {"met": met, "missed": missed} == truth["sla_counts"], "SLA counts (fct_leads) vs truth.json"
    assert abs(met / (met + missed) - truth["sla_compliance"]) <= 1e-9
    ok, tol = _within(met / (met + missed), truth["sla_compliance_planted"], met + missed)
    assert ok, f"SLA compliance {met / (met + missed):.4f} vs planted {truth['sla_compliance_planted']} ± {tol:.4f}"


def test_release_rate(truth: dict, mart) -> None:
    leads = mart("fct_leads")
    released, n = int((leads["release_count"] > 0).sum()), len(leads)
    assert {"released": released, "leads": n} == truth["release_counts"], "release counts (fct_leads) vs truth"
    assert abs(released / n - truth["release_rate"]) <= 1e-9
    ok, tol = _within(released / n, truth["release_rate_planted"], n)
    assert ok, f"release rate {released / n:.4f} vs planted {truth['release_rate_planted']} ± {tol:.4f}"


# ---------------------------------------------------------------- customers

def _renewal(mart) -> tuple[int, int]:
    cv = mart("fct_customer_value")
    return int(cv["subscriptions_renewed"].sum()), int(cv["subscriptions_ended"].sum())


def test_renewal_rate_planted(truth: dict, mart) -> None:
    renewed, ended = _renewal(mart)
    assert ended > 0
    ok, tol = _within(renewed / ended, truth["renewal_rate_planted"], ended)
    assert ok, (f"renewal rate {renewed}/{ended} = {renewed / ended:.4f} vs planted "
                f"{truth['renewal_rate_planted']} ± {tol:.4f}")


def test_renewal_counts_realised(truth: dict, mart) -> None:
    renewed, ended = _renewal(mart)
    assert {"renewed": renewed, "ending": ended} == truth["renewal_counts"]


def test_referral_share(truth: dict, mart) -> None:
    accounts = mart("dim_account")
    accounts = accounts[~accounts["is_inferred"]]
    cv = mart("fct_customer_value")
    assert int(cv["is_referred"].sum()) == int(accounts["is_referred"].sum())
    got = {"referred": int(accounts["is_referred"].sum()), "accounts": len(accounts)}
    assert got == truth["referral_counts"], "referral counts (dim_account) vs truth.json"
    assert abs(got["referred"] / got["accounts"] - truth["referral_share"]) <= 1e-9


def test_referral_share_planted(truth: dict, mart) -> None:
    """Planted share of accounts that came by referral (dim_account.is_referred over every exported account)."""
    accounts = mart("dim_account")
    accounts = accounts[~accounts["is_inferred"]]
    n = len(accounts)
    rate = float(accounts["is_referred"].mean())
    ok, tol = _within(rate, truth["referral_share_planted"], n)
    assert ok, f"referral share {rate:.4f} (n={n}) vs planted {truth['referral_share_planted']} ± {tol:.4f}"
