"""The attribution marts on the session's sample warehouse (docs/metrics.md#attribution-paths and the entries after
it): fct_attribution row by row against the independent implementation in tests/independent/attribution.py
(journeys, paths, the six rule models, Markov by power iteration and Shapley by enumeration), the totals of
fct_channel_attribution and fct_content_performance against the lead, deal, spend and touch facts, and the
synthetic touch's agreement with the single-touch default of fct_campaign_roi."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from independent import attribution as oracle
from independent.raw import Raw, timestamps

from closedloop.build import PROJECT_DIR

MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "markov", "shapley"]


def _vars() -> dict:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


@pytest.fixture(scope="module")
def facts(sample, wh) -> dict[str, pd.DataFrame]:
    read = lambda sql: wh.execute(sql).df()  # noqa: E731
    raw = Raw(sample.raw)
    contacts = raw.table("crm/contacts", ["contact_id", "account_id", "created_at"])
    return {
        "leads": read("select lead_id, created_at, channel, campaign_id, is_converted, disqualified_at "
                      "from marts.fct_leads"),
        "opportunities": read("select opportunity_id, account_id, created_at, closed_at, is_closed, is_won, amount, "
                              "source_lead_id, channel, campaign_id from marts.fct_opportunities"),
        "record_persons": read("select record_type, record_id, person_id "
                               "from intermediate.int_identity__record_persons"),
        "touches": read("select touch_id, touched_at, person_id, channel, campaign_id, content_id "
                        "from marts.fct_touches"),
        "accounts": raw.table("crm/accounts", ["account_id", "source_lead_id"]),
        "contacts": contacts.assign(created_at=timestamps(contacts["created_at"])),
        "as_of": read("select as_of_at from intermediate.int_as_of")["as_of_at"].iloc[0],
    }


@pytest.fixture(scope="module")
def journeys(facts) -> list[dict]:
    found = oracle.journeys(facts["leads"], facts["opportunities"], facts["accounts"], facts["contacts"],
                            facts["record_persons"], facts["touches"], facts["as_of"])
    oracle.draw_paths(found, facts["touches"], _vars()["attribution_lookback_days"])
    return found


@pytest.fixture(scope="module")
def expected(journeys) -> pd.DataFrame:
    return pd.DataFrame(oracle.credits(journeys, _vars()["attribution_half_life_days"]))


@pytest.fixture(scope="module")
def attribution(mart) -> pd.DataFrame:
    return mart("fct_attribution")


def test_sample_has_multi_touch_paths(attribution: pd.DataFrame) -> None:
    """Guard: the comparisons below are about real paths, not only synthetic touches."""
    first = attribution[attribution["model"] == "linear"]
    assert (first["path_length"] >= 3).sum() > 100, first["path_length"].describe()
    assert first["is_synthetic"].any() and not first["is_synthetic"].all()
    for ctype in ("lead", "opportunity", "won"):
        assert (first["conversion_type"] == ctype).any(), ctype


def test_journeys_match_the_independent_paths(journeys, wh) -> None:
    mine = pd.DataFrame([dict(conversion_type=j["type"], journey_id=j["id"], is_converted=j["converted"],
                              touches=0 if j["synthetic"] else len(j["path"])) for j in journeys])
    theirs = wh.execute("""
        select conversion_type, journey_id, is_converted,
               count(*) filter (where not is_synthetic) as touches
        from intermediate.int_attribution__path_touches group by all""").df()
    merged = mine.merge(theirs, on=["conversion_type", "journey_id", "is_converted"], how="outer",
                        suffixes=("_mine", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head(20)
    differ = merged[merged["touches_mine"] != merged["touches_mart"]]
    assert differ.empty, differ.head(20)


def test_credits_match_the_independent_implementation(expected: pd.DataFrame, attribution: pd.DataFrame) -> None:
    keys = ["conversion_type", "conversion_id", "model", "touch_id"]
    mine = expected.assign(touch_id=expected["touch_id"].fillna(""))
    theirs = attribution.assign(touch_id=attribution["touch_id"].fillna(""))
    assert len(mine) == len(theirs), (len(mine), len(theirs))
    merged = mine.merge(theirs, on=keys, how="outer", suffixes=("_mine", "_mart"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys].head(20)
    off = merged[(merged["credit_mine"] - merged["credit_mart"]).abs() > 1e-9]
    assert off.empty, off[[*keys, "credit_mine", "credit_mart"]].head(20).to_string()
    won = merged[merged["conversion_type"] == "won"]
    off = won[(won["revenue_credit_mine"].astype(float) - won["revenue_credit_mart"]).abs() > 1e-5]
    assert off.empty, off[[*keys, "revenue_credit_mine", "revenue_credit_mart"]].head(20).to_string()
    for column in ("channel", "campaign_id", "content_id"):
        a, b = merged[f"{column}_mine"].fillna(""), merged[f"{column}_mart"].fillna("")
        assert (a == b).all(), merged.loc[a != b, [*keys, f"{column}_mine", f"{column}_mart"]].head(10)


def test_credit_sums_and_no_fan_out(attribution: pd.DataFrame, mart) -> None:
    leads, opps = mart("fct_leads"), mart("fct_opportunities")
    sums = attribution.groupby(["conversion_type", "conversion_id", "model"])["credit"].sum()
    assert ((sums - 1).abs() < 1e-9).all(), sums[(sums - 1).abs() >= 1e-9].head()
    counts = attribution.groupby(["conversion_type", "model"])["conversion_id"].nunique().unstack()
    assert (counts.loc["lead"].dropna() == len(leads)).all() and counts.loc["lead"].isna().sum() == 1  # w_shaped
    assert (counts.loc["opportunity"] == len(opps)).all()
    assert (counts.loc["won"] == int(opps["is_won"].sum())).all()
    revenue = attribution[attribution["conversion_type"] == "won"].groupby("model")["revenue_credit"].sum()
    won_amount = float(opps.loc[opps["is_won"], "amount"].astype(float).sum())
    assert ((revenue - won_amount).abs() < 0.01).all(), (revenue, won_amount)


def test_channel_attribution_totals(mart, attribution: pd.DataFrame, sample) -> None:
    channel = mart("fct_channel_attribution")
    assert not channel.duplicated(["month", "channel", "conversion_type", "model"]).any()
    leads, opps = mart("fct_leads"), mart("fct_opportunities")
    for model in MODELS:
        rows = channel[channel["model"] == model]
        by_type = rows.groupby("conversion_type")["conversions_credited"].sum()
        if model != "w_shaped":
            assert by_type["lead"] == pytest.approx(len(leads), abs=1e-6)
        assert by_type["opportunity"] == pytest.approx(len(opps), abs=1e-6)
        assert by_type["won"] == pytest.approx(int(opps["is_won"].sum()), abs=1e-6)
        won = rows[rows["conversion_type"] == "won"]
        assert won["revenue_credited"].sum() == pytest.approx(float(opps.loc[opps["is_won"], "amount"].sum()),
                                                              abs=0.01)
        assert rows[rows["conversion_type"] != "won"]["revenue_credited"].isna().all()
    # spend: the raw campaign spend, once per (month, channel), repeated on each type x model row
    raw = Raw(sample.raw)
    spend_cents = int(raw.campaign_spend["spend_cents"].sum())
    one = channel[(channel["conversion_type"] == "won") & (channel["model"] == "linear")]
    assert round(float(one["spend"].astype(float).sum()) * 100) == spend_cents
    # ROI and cost per credited conversion from the parts carried beside them
    won = channel[(channel["conversion_type"] == "won") & (channel["spend"].astype(float) > 0)]
    roi = (won["revenue_credited"] - won["spend"].astype(float)) / won["spend"].astype(float)
    assert (roi - won["roi"]).abs().max() < 1e-9
    assert channel.loc[channel["conversion_type"] != "won", "roi"].isna().all()
    # a month x channel credit equals fct_attribution's by conversion month (independent group-by in pandas)
    mine = attribution.assign(month=attribution["converted_at"].dt.to_period("M").dt.start_time).groupby(
        ["month", "channel", "conversion_type", "model"], dropna=False)["credit"].sum().rename("mine").reset_index()
    merged = channel.assign(month=pd.to_datetime(channel["month"])).merge(
        mine, on=["month", "channel", "conversion_type", "model"], how="left")
    assert ((merged["mine"].fillna(0) - merged["conversions_credited"]).abs() < 1e-9).all()


def test_content_performance_against_touches_and_paths(mart, journeys, expected: pd.DataFrame, facts) -> None:
    content = mart("fct_content_performance")
    touches = facts["touches"].dropna(subset=["content_id"])
    touches = touches.assign(month=touches["touched_at"].dt.to_period("M").dt.start_time)
    reach = touches.groupby(["content_id", "month"]).agg(touches=("touch_id", "size"),
                                                         persons_reached=("person_id", "nunique"))
    influenced: dict[tuple, dict[str, float]] = {}
    column = {"lead": "leads_influenced", "opportunity": "opportunities_influenced", "won": "wins_influenced"}
    for j in journeys:
        if not j["converted"]:
            continue
        first: dict[str, pd.Timestamp] = {}
        for t in j["path"]:
            if isinstance(t["content"], str):
                first.setdefault(t["content"], t["at"])
        for content_id, at in first.items():
            row = influenced.setdefault((content_id, at.to_period("M").start_time), {})
            row[column[j["type"]]] = row.get(column[j["type"]], 0) + 1
            if j["type"] == "won":
                row["revenue_influenced"] = row.get("revenue_influenced", 0.0) + j["revenue"]
    credit = expected.dropna(subset=["content_id"])
    credit = credit.assign(month=pd.to_datetime(credit["touched_at"]).dt.to_period("M").dt.start_time)
    influence = pd.DataFrame.from_dict(influenced, orient="index")
    influence.index = influence.index.set_names(["content_id", "month"])
    mine = reach.join(influence, how="outer").fillna(0)
    for model in MODELS:
        opp = credit[(credit["conversion_type"] == "opportunity") & (credit["model"] == model)]
        won = credit[(credit["conversion_type"] == "won") & (credit["model"] == model)]
        mine = mine.join(opp.groupby(["content_id", "month"])["credit"].sum().rename(f"credited_opportunities_{model}"),
                         how="outer")
        mine = mine.join(won.groupby(["content_id", "month"])["revenue_credit"].sum().astype(float).rename(
            f"credited_revenue_{model}"), how="outer")
    mine = mine.fillna(0)
    theirs = content.assign(month=pd.to_datetime(content["month"])).set_index(["content_id", "month"])
    assert set(mine.index) == set(theirs.index), set(mine.index) ^ set(theirs.index)
    theirs = theirs.loc[mine.index]
    for col in mine.columns:
        diff = (mine[col].astype(float) - theirs[col].astype(float)).abs()
        tol = 1e-4 if "revenue" in col else 1e-9
        assert (diff <= tol).all(), (col, diff[diff > tol].head())
    assert theirs["touches"].sum() == len(touches)


def test_synthetic_touches_agree_with_the_single_touch_default(attribution: pd.DataFrame, mart) -> None:
    """On an empty path every model credits the lead's own channel and campaign (a deal's: its lead's), which is
    what fct_campaign_roi's single-touch default counts; first and last touch give it all of the credit."""
    synthetic = attribution[attribution["is_synthetic"]]
    assert len(synthetic) > 0
    assert (synthetic["credit"] == 1).all()
    leads = mart("fct_leads").set_index("lead_id")
    opps = mart("fct_opportunities").set_index("opportunity_id")
    for ctype, facts in (("lead", leads), ("opportunity", opps), ("won", opps)):
        rows = synthetic[(synthetic["conversion_type"] == ctype) & synthetic["model"].isin(["first_touch",
                                                                                            "last_touch"])]
        own = facts.loc[rows["conversion_id"]]
        assert (rows["campaign_id"].fillna("").to_numpy() == own["campaign_id"].fillna("").to_numpy()).all(), ctype
        assert (rows["channel"].fillna("").to_numpy() == own["channel"].fillna("").to_numpy()).all(), ctype


@pytest.mark.slow
def test_with_every_path_empty_every_model_is_the_single_touch_default(tmp_path) -> None:
    """A build whose lookbacks reach no touch (a negative lookback window is empty) gives every conversion its
    synthetic touch; then every model, first and last touch included, credits each campaign exactly the leads,
    opportunities, won deals and won revenue fct_campaign_roi gives it (docs/metrics.md#attribution-paths)."""
    import io

    import duckdb

    from closedloop.build import build
    from closedloop.generate import generate

    raw = tmp_path / "raw"
    generate(raw, scale=0.2, seed=11)
    result = build(raw, tmp_path / "warehouse.duckdb", out=io.StringIO(),
                   vars_={"attribution_lookback_days": {"lead": -1, "opportunity": -1, "won": -1}})
    con = duckdb.connect(str(result.warehouse), read_only=True)
    try:
        real, rows = con.execute("select count(*) filter (where not is_synthetic), count(*) "
                                 "from marts.fct_attribution").fetchall()[0]
        assert real == 0 and rows > 0, (real, rows)
        roi = con.execute("""
            select campaign_id, sum(leads) as leads, sum(opportunities) as opportunities, sum(won_deals) as won_deals,
                   sum(won_revenue) as won_revenue
            from marts.fct_campaign_roi group by campaign_id""").df().set_index("campaign_id")
        credit = con.execute("""
            select model, campaign_id,
                   sum(credit) filter (where conversion_type = 'lead') as leads,
                   sum(credit) filter (where conversion_type = 'opportunity') as opportunities,
                   sum(credit) filter (where conversion_type = 'won') as won_deals,
                   sum(revenue_credit) filter (where conversion_type = 'won') as won_revenue
            from marts.fct_attribution where campaign_id is not null group by all""").df()
    finally:
        con.close()
    assert roi["leads"].sum() > 50 and roi["won_deals"].sum() > 5
    for model in MODELS:
        mine = credit[credit["model"] == model].set_index("campaign_id").reindex(roi.index).fillna(0)
        for column in ("opportunities", "won_deals", "won_revenue") + (() if model == "w_shaped" else ("leads",)):
            diff = (mine[column].astype(float) - roi[column].astype(float)).abs()
            assert (diff < 1e-6).all(), (model, column, diff[diff >= 1e-6].head())


def _channel_credit(channel: pd.DataFrame, conversion_type: str) -> pd.DataFrame:
    """conversions credited per channel (rows) and model (columns) over the whole sample; null channel left out."""
    rows = channel[(channel["conversion_type"] == conversion_type) & channel["channel"].notna()]
    return rows.pivot_table(index="channel", columns="model", values="conversions_credited", aggfunc="sum")


def test_data_driven_models_see_the_planted_channel_effects(mart, sample) -> None:
    """The generator plants webinars (直播) that raise the chance to convert when on the path but rarely close it,
    and SEM ad clicks that only open journeys (truth.json `attribution.planted`). Markov and Shapley must rank 直播
    above where last touch ranks it for opportunities and won deals, with a clearly larger share; first touch must
    credit SEM more than last touch does."""
    planted = sample.truth["attribution"]["planted"]
    webinar, sem = planted["webinar"]["channel"], planted["sem_first_only"]["channel"]
    channel = mart("fct_channel_attribution")
    for conversion_type in ("opportunity", "won"):
        credit = _channel_credit(channel, conversion_type)
        rank = credit.rank(ascending=False, method="min")
        share = credit / credit.sum()
        for model in ("markov", "shapley"):
            assert rank.loc[webinar, model] < rank.loc[webinar, "last_touch"], (conversion_type, model, rank)
            assert share.loc[webinar, model] > 1.5 * share.loc[webinar, "last_touch"], (conversion_type, model, share)
        assert credit.loc[sem, "first_touch"] > 5 * credit.loc[sem, "last_touch"], (conversion_type, credit)
    lead = _channel_credit(channel, "lead")
    assert lead.loc[sem, "first_touch"] > lead.loc[sem, "last_touch"], lead
