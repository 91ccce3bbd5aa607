"""The identity pages of the dashboards (AppTest over the session's sample warehouse): the Customer journey page
(reached by `?person=`, `?lead=`, `?opportunity=`, `?account=`, the search box and the journey links of the drill
tables), the Data page's identity audit and the Lead flow page's duplicates per channel — each figure against the
marts read independently with pandas, and contact details masked by role."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from test_access_control import ANALYST, CEO, HEAD, configure, org  # noqa: E402,F401 - fixtures

from dashboards import periods  # noqa: E402
from dashboards import queries as q  # noqa: E402
from dashboards.i18n import Tr  # noqa: E402

APP = REPO / "dashboards" / "app.py"
TIMEOUT = 120
STALE_ICON = "🕰️"


@pytest.fixture
def warehouse(sample, monkeypatch) -> Path:
    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    return sample.warehouse


def run(url: str, **params):
    """Open page `url` as a deep link with URL parameters (as a copied link or a journey link does)."""
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    at._page_hash = calc_hash(url)
    at.run()
    return at


def assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    failures = [e.value for e in at.error if e.icon != STALE_ICON]
    assert not failures, failures


def frame(at, column: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with column {column!r}"
    return found[0]


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [s.value for s in at.subheader] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def people(wh) -> dict:
    """Persons of the sample chosen independently: one with several leads and touches, an opportunity with a
    source lead, an account with several persons."""
    leads = wh.execute("select lead_id, person_id, created_at from marts.fct_leads").df()
    touches = wh.execute("select touch_id, person_id from marts.fct_touches").df()
    persons = wh.execute("select * from marts.dim_person").df()
    per = leads.groupby("person_id").size().rename("n").to_frame().join(
        touches.groupby("person_id").size().rename("t"), how="inner")
    busy = per.sort_values(["n", "t", "person_id"], ascending=[False, False, True]).index[0]
    opps = wh.execute("select opportunity_id, source_lead_id, account_id from marts.fct_opportunities "
                      "where source_lead_id is not null order by opportunity_id").df()
    opp = opps.merge(leads, left_on="source_lead_id", right_on="lead_id").iloc[0]
    acc = persons.dropna(subset=["account_id"]).groupby("account_id").size()
    account = acc[acc > 1].index.sort_values()[0]
    in_acc = persons[persons.account_id == account].sort_values(["first_seen_at", "person_id"])
    return {"busy": busy, "busy_lead": leads[leads.person_id == busy].sort_values("created_at").lead_id.iloc[-1],
            "opp": opp.opportunity_id, "opp_person": opp.person_id, "account": account,
            "account_first": in_acc.person_id.iloc[0], "account_others": set(in_acc.person_id.iloc[1:]),
            "leads": leads, "touches": touches, "persons": persons}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_journey_page_without_a_person_lists_the_persons_with_the_most_leads(warehouse, people, lang):
    t = Tr(lang)
    at = run("journey", **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    assert at.text_input(key="journey_q")
    top = frame(at, t("identifiers"))
    expected = people["persons"].sort_values("lead_count", ascending=False).lead_count.head(len(top)).tolist()
    assert top[t("leads")].tolist() == expected
    assert all(u == f"./journey?person={p}" + ("&lang=English" if lang == "en" else "")
               for u, p in zip(top[t("journey_link")], top[t("person")], strict=True))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_journey_of_a_lead_lists_exactly_its_persons_touches_and_leads(warehouse, people, wh, lang):
    t = Tr(lang)
    at = run("journey", lead=people["busy_lead"], **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    pid = people["busy"]
    assert t("journey_of", person=pid) in texts(at)
    events = frame(at, t("event_kind"))
    shown = events.groupby(t("event_kind"))["ID"].apply(set)
    touches = set(people["touches"].loc[people["touches"].person_id == pid, "touch_id"])
    leads = set(people["leads"].loc[people["leads"].person_id == pid, "lead_id"])
    assert shown[t("kind_touch")] == touches
    assert shown[t("kind_lead")] == leads
    # the deals of those leads (and of the person's account) are on it too
    account = people["persons"].set_index("person_id").account_id.get(pid)
    opps = wh.execute("select opportunity_id from marts.fct_opportunities where source_lead_id in "
                      f"(select lead_id from marts.fct_leads where person_id = '{pid}') or account_id = $a",
                      {"a": account if isinstance(account, str) else ""}).df().opportunity_id
    assert shown.get(t("kind_opportunity"), set()) == set(opps)
    # in time order, one chart with a lane per kind
    assert events[t("event_at")].is_monotonic_increasing
    ids = frame(at, t("identifier_type"))
    bridge = wh.execute("select identifier_type from marts.bridge_person_identifier where person_id = $p",
                        {"p": pid}).df()
    assert sorted(ids[t("identifier_type")]) == sorted(bridge.identifier_type)


def test_an_opportunity_and_an_account_link_resolve_to_their_person(warehouse, people):
    t = Tr("zh")
    at = run("journey", opportunity=people["opp"])
    assert_clean(at)
    assert t("journey_of", person=people["opp_person"]) in texts(at)
    at = run("journey", account=people["account"])
    assert_clean(at)
    body = texts(at)
    assert t("journey_of", person=people["account_first"]) in body
    assert all(f"./journey?person={p}" in body for p in people["account_others"])
    at = run("journey", lead="L99999999")
    assert_clean(at)
    assert t("journey_not_found", what="lead=L99999999") in texts(at)


def test_the_search_box_puts_the_person_in_the_url(warehouse, people):
    at = run("journey")
    at.text_input(key="journey_q").input(people["busy_lead"]).run()
    assert_clean(at)
    assert at.query_params.get("person") in (people["busy"], [people["busy"]])
    at.text_input(key="journey_q").input("no such thing").run()
    assert Tr("zh")("journey_not_found", what="no such thing") in texts(at)


def _person_with_email(wh) -> tuple[str, str]:
    row = wh.execute("""select person_id, identifier_value from marts.bridge_person_identifier
                        where identifier_type = 'email' order by person_id limit 1""").fetchall()[0]
    return row[0], row[1]


def test_identifiers_on_the_journey_are_masked_by_role(configure, wh, monkeypatch):  # noqa: F811
    pid, email = _person_with_email(wh)
    t = Tr("zh")
    configure(ANALYST)
    at = run("journey", person=pid)
    assert_clean(at)
    assert email in frame(at, t("identifier_value"))[t("identifier_value")].tolist()
    # an analyst may search by e-mail
    at = run("journey")
    at.text_input(key="journey_q").input(email.upper()).run()
    assert at.query_params.get("person") in (pid, [pid])

    configure(CEO, exec_rights="{row_level: true}")  # rows, but no contact details
    at = run("journey", person=pid)
    assert_clean(at)
    values = frame(at, t("identifier_value"))[t("identifier_value")].tolist()
    assert email not in values and any(v.endswith("@" + email.split("@")[1]) and "***" in v for v in values)
    at = run("journey")
    at.text_input(key="journey_q").input(email).run()
    assert "person" not in at.query_params  # an e-mail search would tell who is known

    configure(HEAD, head_rights="{row_level: true}")  # a person spans departments: not in a head's view
    at = run("journey", person=pid)
    assert_clean(at)
    assert email not in texts(at) and at.info


def test_the_drill_tables_link_each_lead_and_deal_to_its_journey(warehouse):
    t = Tr("zh")
    at = run("lead-flow", drill_lead_step=t("leads"))
    assert_clean(at)
    rows = frame(at, t("journey_link"))
    assert len(rows) and (rows[t("journey_link")] == "./journey?lead=" + rows["ID"]).all()
    at = run("overview", kpi=t("opps_created"))
    assert_clean(at)
    rows = frame(at, t("journey_link"))
    assert len(rows) and (rows[t("journey_link")] == "./journey?opportunity=" + rows["ID"]).all()
    # the link is for the screen: the table's export has no journey column
    exported = dict(at.session_state["_ctx"].tables)
    assert all(t("journey_link") not in df.columns for df in exported.values())


# ---- Data page: identity audit ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_page_shows_the_identity_audit(warehouse, mart, lang):
    t = Tr(lang)
    at = run("data", **({"lang": "English"} if lang == "en" else {}))
    assert_clean(at)
    assert t("identity_audit") in [s.value for s in at.subheader]
    leads, persons, audit = mart("fct_leads"), mart("dim_person"), mart("fct_identity_audit")
    tiles = {m.label: m.value for m in at.metric}
    assert tiles[t("persons")] == t.int(len(persons))
    assert tiles[t("persons_several_leads")] == t.int((persons.lead_count > 1).sum())
    dups = int(leads.duplicate_of_lead_id.notna().sum())
    assert tiles[t("duplicate_leads")] == f"{t.int(dups)} ({t.pct(dups / len(leads))})"
    assert tiles[t("blocked_values")] == t.int((audit.action == "blocked").sum())
    assert tiles[t("quarantined_values")] == t.int((audit.action == "quarantined").sum())
    if audit.empty:
        assert t("audit_none") in [s.value for s in at.success]
    else:
        shown = frame(at, t("persons_it_would_join"))
        assert len(shown) == len(audit)
        assert shown[t("persons_it_would_join")].sum() == audit.persons_it_would_join.sum()
    largest = frame(at, t("identifiers"))
    assert largest[t("leads")].tolist() == persons.lead_count.sort_values(ascending=False).head(10).tolist()


# ---- Lead flow: duplicates per channel ----------------------------------------------------------------------

def test_duplicates_per_channel_equal_a_count_over_fct_leads(warehouse, mart, as_of):
    t = Tr("zh")
    half = periods.period_start(as_of, "half_year")
    previous = periods.add_months(half, -6)
    at = run("lead-flow", grain=t("half_year"), period=t.period("half_year", previous))
    assert_clean(at)
    shown = frame(at, t("duplicate_share")).set_index(t("channel"))
    leads = mart("fct_leads")
    w = leads[(leads.created_at >= pd.Timestamp(previous)) & (leads.created_at < pd.Timestamp(half))]
    labels = mart("dim_channel").set_index("channel").label_zh.to_dict()
    expected = w.groupby("channel").agg(leads=("lead_id", "size"),
                                        dups=("duplicate_of_lead_id", lambda s: int(s.notna().sum())))
    assert len(shown) == len(expected)
    for channel, row in expected.iterrows():
        got = shown.loc[labels.get(channel) or channel]
        assert got[t("leads")] == row.leads and got[t("duplicates")] == row.dups, channel
        assert got[t("duplicate_share")] == pytest.approx(100 * row.dups / row.leads)
    worst = (expected.dups / expected.leads).idxmax()
    if expected.dups.sum():
        assert (labels.get(worst) or worst) in texts(at)
