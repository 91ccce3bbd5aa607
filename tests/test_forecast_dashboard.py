"""The Forecast page and the Overview's forecast tile, run headless with AppTest over the session sample: the
numbers on screen recomputed here from the deals (fct_forecast, fct_opportunities), not read from the mart that
fed them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import queries as q  # noqa: E402
from dashboards.i18n import Tr  # noqa: E402

APP = REPO / "dashboards" / "app.py"


@pytest.fixture
def warehouse(sample, monkeypatch) -> Path:
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    return sample.warehouse


def run(view: str | None, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if view:
        at.switch_page(f"views/{view}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def quarter_expected(mart) -> tuple[float, pd.Timestamp]:
    """Won this fiscal quarter to the as-of + Σ amount × P(won this quarter) of the open deals (fiscal year from
    January, the sample's setting)."""
    deals = mart("fct_forecast")
    as_of = pd.Timestamp(deals["as_of"].iloc[0])
    start = pd.Timestamp(year=as_of.year, month=3 * ((as_of.month - 1) // 3) + 1, day=1)
    opps = mart("fct_opportunities")
    won = opps[opps["is_won"] & (opps["closed_at"] >= start) & (opps["closed_at"] <= as_of)]["amount"].astype(float)
    return float(won.sum()) + float((deals["amount"] * deals["p_win_in_period"]).sum()), start


def test_overview_tile_shows_this_quarters_expected_bookings_and_band(warehouse, mart):
    t = Tr("en")
    at = run(None, lang="English")
    expected, start = quarter_expected(mart)
    tiles = [m for m in at.metric if m.label.startswith(t("fc_tile"))]
    assert len(tiles) == 1
    assert tiles[0].value == t.money(expected)
    periods = mart("fct_forecast_periods")
    company = periods[(periods["period"] == "quarter") & periods["department_id"].isna()].iloc[0]
    band = t("fc_band", low=t.money(company.p10), high=t.money(company.p90))
    assert band in [c.value for c in at.caption]


def test_forecast_page_bookings_movers_and_scores(warehouse, mart):
    t = Tr("en")
    at = run("forecast", lang="English")
    expected, _ = quarter_expected(mart)
    by_label = {m.label: m.value for m in at.metric}
    assert by_label[t("fc_expected")] == t.money(expected)
    deals = mart("fct_forecast")
    assert by_label[t("fc_open_pipeline")] == t.money(float(deals["amount"].sum()))
    # the deals that move it most: the largest amount × P(won this quarter), in that order
    movers = [d for d in at.dataframe if "ID" in d.value.columns][0].value
    top = deals.assign(x=deals["amount"] * deals["p_win_in_period"]).sort_values(["x", "opportunity_id"],
                                                                                   ascending=[False, True])
    assert list(movers["ID"]) == list(top["opportunity_id"].head(len(movers)))
    # Brier scores: recomputed from every scored deal's probability and outcome
    rows = mart("int_forecast__deal_probabilities", "intermediate")
    rows = rows[~rows["is_current"]]
    y = rows["is_won_within_horizon"].astype(float).to_numpy()
    for method, column in (("model", "p_win_horizon"), ("stage_seed", "p_stage_seed"),
                           ("closed_only", "p_closed_only")):
        brier = float(np.mean((rows[column].to_numpy() - y) ** 2))
        assert by_label[f"{t('fc_brier')} · {t(f'fc_method_{method}')}"] == t.num(brier, 4)
    assert any(c.value.startswith(t("fc_how_right_caption", n=0, first="", last="", h=0)[:9]) for c in at.caption)


def test_forecast_page_follows_the_department_filter(warehouse, mart):
    at = run("forecast", lang="English", dept="华南二部")
    t = Tr("en")
    periods = mart("fct_forecast_periods")
    row = periods[(periods["period"] == "quarter") & (periods["department_id"] == "D220")].iloc[0]
    assert {m.label: m.value for m in at.metric}[t("fc_expected")] == t.money(float(row.expected_bookings))
