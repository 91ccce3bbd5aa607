"""The attribution pages of the dashboards: the channel ranks between models (dashboards/ranking.py, with fixed
frames), and — over the session's sample warehouse — the Campaigns & ROI page's model picker and models side by
side, and the Content page, each figure against the marts read independently with pandas."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import periods, ranking  # noqa: E402
from dashboards import queries as q  # noqa: E402
from dashboards.i18n import Tr  # noqa: E402

APP = REPO / "dashboards" / "app.py"
STALE_ICON = "🕰️"


def frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["channel", "model", "conversions"])


# ---- ranks, with fixed frames -------------------------------------------------------------------------------

def test_ranks_are_competition_ranks_and_uncredited_channels_rank_last():
    df = frame([("a", "last_touch", 5), ("b", "last_touch", 3), ("c", "last_touch", 3), ("d", "last_touch", 0),
                ("a", "markov", 1), ("b", "markov", 4), ("c", "markov", 2)])
    r = ranking.ranks(df)
    assert r["last_touch"].to_dict() == {"a": 1, "b": 2, "c": 2, "d": 4}
    assert r["markov"].to_dict() == {"a": 3, "b": 1, "c": 2, "d": 4}  # d: no markov row at all
    assert list(r.columns) == ["last_touch", "markov"]  # the models' display order


def test_rank_changes_say_the_largest_moves_first():
    # 直播 is 3rd by last touch and 1st by Markov; 官网 falls from 1st to 3rd; SEM keeps 2nd.
    df = frame([("官网", "last_touch", 9), ("SEM", "last_touch", 6), ("直播", "last_touch", 3),
                ("官网", "markov", 2), ("SEM", "markov", 5), ("直播", "markov", 8),
                ("官网", "shapley", 7), ("SEM", "shapley", 6), ("直播", "shapley", 5)])
    changes = ranking.rank_changes(df)
    assert [(c.channel, c.base_rank, c.other_model, c.other_rank) for c in changes] == [
        ("直播", 3, "markov", 1), ("官网", 1, "markov", 3)]
    assert changes[0].moved == 2 and changes[1].moved == -2
    t = Tr("en")
    assert t("rank_sentence", channel="直播", r1=t.ordinal(3), base=t("model_last_touch"), r2=t.ordinal(1),
             other=t("model_markov")) == "**直播** is 3rd by last touch and 1st by Markov."
    assert [t.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]


def test_rank_changes_when_nothing_moves_or_the_base_is_missing():
    same = frame([("a", "last_touch", 2), ("b", "last_touch", 1), ("a", "markov", 5), ("b", "markov", 4)])
    assert ranking.rank_changes(same) == []
    assert ranking.rank_changes(frame([("a", "markov", 1)])) == []
    assert ranking.rank_changes(same, limit=0) == []


# ---- pages over the sample warehouse ------------------------------------------------------------------------

@pytest.fixture
def warehouse(sample, monkeypatch) -> Path:
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    return sample.warehouse


def run(url: str, **params):
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at._page_hash = calc_hash(url)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if e.icon != STALE_ICON], [e.value for e in at.error]
    return at


def table(at, column: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with {column!r}"
    return found[0]


def _window(as_of, t: Tr):
    """The previous complete half year: a window with conversions of every type."""
    start = periods.add_months(periods.period_start(as_of, "half_year"), -6)
    return periods.window("half_year", start, as_of), {"grain": t("half_year"),
                                                        "period": t.period("half_year", start)}


def _channel_sums(mart, w, conversion_type: str) -> pd.DataFrame:
    ca = mart("fct_channel_attribution")
    ca = ca[(ca.month >= pd.Timestamp(w.start)) & (ca.month < pd.Timestamp(w.end))
            & (ca.conversion_type == conversion_type)]
    return ca.groupby(["channel", "model"], dropna=False).conversions_credited.sum().reset_index()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_campaigns_default_is_the_page_as_before_and_models_sit_side_by_side(warehouse, mart, as_of, lang):
    t = Tr(lang)
    w, params = _window(as_of, t)
    at = run("campaigns", **params, **({"lang": "English"} if lang == "en" else {}))
    heads = [s.value for s in at.subheader]
    assert heads[0] == t("channel_table") and t("models_side_by_side") in heads
    assert not any(h.startswith(t("channel_table_model", model="")[:4]) and h != t("channel_table") for h in heads)
    # the ranks table: the channels' ranks by credited opportunities, computed here with pandas
    sums = _channel_sums(mart, w, "opportunity")
    labels = mart("dim_channel").set_index("channel")["label_zh" if lang == "zh" else "label_en"].to_dict()
    ranks = table(at, t("model_markov")).set_index(t("channel"))
    assert t("unknown_channel") not in ranks.index  # conversions without a channel are not ranked
    for model in ("last_touch", "markov", "shapley"):
        m = sums[(sums.model == model) & sums.channel.notna()].set_index("channel").conversions_credited
        credited = m[m > 0]
        for channel, value in credited.items():
            expected = 1 + int((credited > value + 1e-9).sum())
            assert ranks.loc[labels.get(channel) or channel, t(f"model_{model}")] == expected, (model, channel)
    # the sentences name channels whose ranks differ, with both ranks
    sentences = [m.value for m in at.markdown if m.value.startswith("**") and " · `docs" not in m.value
                 and m.value.count("**") == 2 and ("排第" in m.value or " is " in m.value)]
    for s in sentences:
        channel = s.split("**")[1]
        row = ranks.loc[channel]
        assert t.ordinal(row[t("model_last_touch")]) in s


def test_a_picked_model_shows_the_channels_under_it(warehouse, mart, as_of):
    t = Tr("zh")
    w, params = _window(as_of, t)
    at = run("campaigns", model=t("model_markov"), **params)
    assert at.subheader[0].value == t("channel_table_model", model=t("model_markov"))
    shown = table(at, t("credited_opportunities")).set_index(t("channel"))
    sums = _channel_sums(mart, w, "opportunity")
    markov = sums[sums.model == "markov"]
    labels = mart("dim_channel").set_index("channel").label_zh.to_dict()
    for channel, value in zip(markov.channel, markov.conversions_credited, strict=True):
        label = (labels.get(channel) or channel) if isinstance(channel, str) else t("unknown_channel")
        assert shown.loc[label, t("credited_opportunities")] == pytest.approx(value)
    assert at.selectbox(key="model").value == "markov"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_content_page_equals_fct_content_performance(warehouse, mart, as_of, lang):
    t = Tr(lang)
    w, params = _window(as_of, t)
    at = run("content", cmodel=t("model_shapley"), **params, **({"lang": "English"} if lang == "en" else {}))
    shown = table(at, t("persons_reached"))
    cp = mart("fct_content_performance")
    cp = cp[(cp.month >= pd.Timestamp(w.start)) & (cp.month < pd.Timestamp(w.end))]
    per = cp.groupby("content_id").agg(title=("title", "first"), touches=("touches", "sum"),
                                       opps=("opportunities_influenced", "sum"),
                                       credited=("credited_opportunities_shapley", "sum"))
    touches = mart("fct_touches")
    touches = touches[(touches.touched_at >= pd.Timestamp(w.start)) & (touches.touched_at < pd.Timestamp(w.end))]
    reached = touches.dropna(subset=["content_id"]).groupby("content_id").person_id.nunique()
    assert len(shown) == len(per)
    by_id = shown.set_index("ID")
    for cid, row in per.iterrows():
        got = by_id.loc[cid]
        assert got[t("content_title")].startswith(row.title if isinstance(row.title, str) else cid)
        assert got[t("touches")] == row.touches and got[t("opportunities_influenced")] == row.opps
        assert got[t("credited_opportunities")] == pytest.approx(row.credited)
        assert got[t("persons_reached")] == reached.get(cid, 0)
    # most credited first, and said in words
    assert shown[t("credited_opportunities")].is_monotonic_decreasing
    best = per.sort_values("credited", ascending=False).iloc[0]
    if best.credited > 0:
        assert any(str(best.title) in m.value for m in at.markdown)
