"""The mapping layer (closedloop.mapping): presets on the real vendor exports, every YAML feature, every error.

No dbt here: these check what the mapping hands to landing (contract-shaped text rows + `__file`/`__row`, and
`excluded_by_mapping` rejections). Counts are recomputed straight from the vendor files with pandas.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from closedloop import contract
from closedloop.mapping import EXCLUDED_RULE, MappingError, load_mapping, parse_mapping, presets
from closedloop.readers import FILE, ROW, Rejection
from closedloop.sources import SourceError

# Copies of ../shared/realdata (SOURCES.md there says where each file comes from and under which licence).
REALDATA = Path(os.environ.get("CLOSEDLOOP_REALDATA", Path(__file__).parent / "fixtures" / "realdata"))
MAVEN = REALDATA / "maven_crm_sales_opportunities"
OLIST = REALDATA / "olist_marketing_funnel"
SALESFORCE = REALDATA / "salesforce_developer_edition_sample_export"
ZH_FIXTURE = Path(__file__).parent / "fixtures" / "zh_export"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
STAGES = set(pd.read_csv(SEEDS / "stages.csv", dtype=str)["stage_name"])
ENUMS = {  # docs/input-contract.md allowed values
    ("crm/users", "role"): {"sdr", "sales", "presales", "manager", "cs", "marketing"},
    ("crm/accounts", "grade"): {"A", "B", "C"},
    ("crm/contacts", "decision_role"): {"decision_maker", "purchaser", "user", "influencer"},
    ("crm/lead_events", "event_type"): {"created", "cleansed", "nurturing", "contacted", "mql", "sql", "converted",
                                        "disqualified"},
    ("crm/ownership_events", "entity_type"): {"lead", "account"},
    ("crm/ownership_events", "event_type"): {"assigned", "released", "claimed", "transferred"},
    ("crm/opportunities", "opportunity_type"): {"new", "renewal", "upsell", "cross_sell"},
    ("crm/opportunities", "stage"): STAGES,
    ("crm/opportunities", "is_closed"): {"true", "false"},
    ("crm/opportunities", "is_won"): {"true", "false"},
    ("crm/opportunity_stage_history", "stage"): STAGES,
    ("crm/activities", "activity_type"): {"call", "visit", "email", "wechat", "meeting", "demo", "proposal"},
    ("campaign/contents", "content_type"): {"whitepaper", "article", "video", "webinar", "case_study"},
    ("campaign/touches", "touch_type"): {"page_view", "form_submit", "download", "webinar_attend", "ad_click",
                                         "email_open", "wechat_follow", "event_checkin"},
    ("service/orders", "order_type"): {"new", "renewal", "upsell", "cross_sell", "service"},
}

needs_realdata = pytest.mark.skipif(not MAVEN.is_dir(), reason=f"real data sets not found in {REALDATA}")


# ------------------------------------------------------------------------------------------------ helpers


def collect(inputs: dict, key: str) -> tuple[pd.DataFrame, list[Rejection]]:
    frames, rejections = [], []
    for chunk in inputs[key].chunks():
        frames.append(chunk.frame)
        rejections += chunk.rejections
    return pd.concat(frames, ignore_index=True), rejections


def run(raw_dir: Path, mapping: str) -> dict[str, tuple[pd.DataFrame, list[Rejection]]]:
    inputs = load_mapping(mapping).inputs(raw_dir)
    return {key: collect(inputs, key) for key in inputs}


def vendor(path: Path) -> pd.DataFrame:
    """A vendor file as pandas reads it, independently of closedloop's reader ('' for empty)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rows_from(frame: pd.DataFrame, rejections: list[Rejection], label: str) -> tuple[int, int]:
    """(rows out, rows excluded by the mapping) of one vendor file (label) in one table."""
    out = int((frame[FILE] == label).sum())
    excluded = sum(1 for r in rejections if r.file == label and r.rule == EXCLUDED_RULE)
    return out, excluded


def assert_text_only(frame: pd.DataFrame) -> None:
    """Every value of every column but `__row` is str or None: no NaN, floats or Timestamps."""
    for column in frame.columns:
        if column == ROW:
            continue
        bad = frame[column].map(lambda v: not (v is None or isinstance(v, str)))
        assert not bad.any(), (column, frame.loc[bad, column].head(3).tolist())
        assert not (frame[column] == "").any(), column


def assert_contract_values(key: str, frame: pd.DataFrame) -> None:
    for (table, column), allowed in ENUMS.items():
        if table == key and column in frame:
            values = set(frame[column].dropna())
            assert values <= allowed, (key, column, values - allowed)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def mapping_file(tmp_path: Path, text: str, name: str = "custom.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def map_tmp(tmp_path: Path, yaml_text: str, files: dict[str, list[list[str]]], **kwargs
            ) -> dict[str, tuple[pd.DataFrame, list[Rejection]]]:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    for name, rows in files.items():
        write_csv(raw / name, rows)
    inputs = load_mapping(mapping_file(tmp_path, yaml_text)).inputs(raw, **kwargs)
    return {key: collect(inputs, key) for key in inputs}


LEADS_HEADER = ["Id", "Created", "Source", "Status"]
LEADS_ROWS = [LEADS_HEADER, ["L1", "2024-01-05", "Web", "Open"], ["L2", "2024-01-06", "Fair", "Won"],
              ["L3", "2024-01-07", "", "Open"]]


def leads_yaml(columns: str, extra: str = "") -> str:
    return f"""
tables:
  crm/leads:
    file: leads
{extra}
    columns:
      lead_id: Id
      created_at: Created
      channel: Source
      status: Status
{columns}
"""


# ------------------------------------------------------------------------------------------------ presets: maven


@pytest.fixture(scope="module")
def maven():
    return run(MAVEN, "maven")


@needs_realdata
def test_maven_tables_and_text(maven):
    assert set(maven) == {"crm/departments", "crm/users", "crm/accounts", "crm/opportunities",
                          "crm/opportunity_stage_history"}
    for key, (frame, _) in maven.items():
        assert_text_only(frame)
        assert_contract_values(key, frame)
        assert set(contract.table(key).required_columns) <= set(frame.columns)


@needs_realdata
def test_maven_opportunities_every_row_and_defects_left_for_validation(maven):
    deals = vendor(MAVEN / "sales_pipeline.csv")
    frame, rejections = maven["crm/opportunities"]
    assert rows_from(frame, rejections, "sales_pipeline.csv") == (len(deals), 0)
    assert frame[ROW].tolist() == list(range(2, len(deals) + 2))
    assert frame["opportunity_id"].tolist() == deals["opportunity_id"].tolist()
    # open deals with a blank account come out with no account (validation sets them aside as `required`)
    assert frame["account_id"].isna().sum() == (deals["account"] == "").sum() > 0
    # Prospecting deals have no date at all: no created_at, likewise left for validation
    assert frame["created_at"].isna().sum() == (deals["engage_date"] == "").sum()
    stage_map = {"Prospecting": "初步接洽", "Engaging": "需求确认", "Won": "赢单", "Lost": "输单"}
    assert frame["stage"].tolist() == deals["deal_stage"].map(stage_map).tolist()
    assert (frame["is_won"] == "true").sum() == (deals["deal_stage"] == "Won").sum()
    assert (frame["is_closed"] == "true").sum() == deals["deal_stage"].isin(["Won", "Lost"]).sum()


@needs_realdata
def test_maven_amount_is_close_value_when_won_else_list_price(maven):
    deals = vendor(MAVEN / "sales_pipeline.csv")
    prices = vendor(MAVEN / "products.csv").set_index("product")["sales_price"]
    frame, _ = maven["crm/opportunities"]
    won = deals["deal_stage"] == "Won"
    assert frame.loc[won, "amount"].tolist() == deals.loc[won, "close_value"].tolist()
    expected = deals.loc[~won, "product"].replace({"GTXPro": "GTX Pro"}).map(prices)
    assert frame.loc[~won, "amount"].tolist() == expected.tolist()
    assert frame["amount"].notna().all()


@needs_realdata
def test_maven_stage_history_two_events_per_deal(maven):
    deals = vendor(MAVEN / "sales_pipeline.csv")
    frame, rejections = maven["crm/opportunity_stage_history"]
    engaged = (deals["engage_date"] != "").sum()
    closed = deals["deal_stage"].isin(["Won", "Lost"]).sum()
    assert rows_from(frame, rejections, "sales_pipeline.csv") == (engaged, len(deals) - engaged)
    assert rows_from(frame, rejections, "sales_pipeline.csv#closed") == (closed, len(deals) - closed)
    assert all(r.rule == EXCLUDED_RULE and r.column is None and r.message for r in rejections)
    assert len({(r.file, r.row) for r in rejections} | set(zip(frame[FILE], frame[ROW], strict=True))) == (
        len(frame) + len(rejections))


@needs_realdata
def test_maven_departments_users_accounts(maven):
    teams = vendor(MAVEN / "sales_teams.csv")
    departments, _ = maven["crm/departments"]
    offices = departments[departments["parent_department_id"].isna()]
    assert offices["department_id"].tolist() == teams["regional_office"].drop_duplicates().tolist()
    assert offices[ROW].tolist() == (teams["regional_office"].drop_duplicates().index + 2).tolist()
    team_rows = departments[departments["parent_department_id"].notna()]
    assert team_rows["department_id"].tolist() == teams["manager"].drop_duplicates().tolist()
    assert set(team_rows[FILE]) == {"sales_teams.csv#teams"}
    users, rejections = maven["crm/users"]
    assert rows_from(users, rejections, "sales_teams.csv") == (len(teams), 0)
    managers = users[users[FILE] == "sales_teams.csv#managers"]
    assert sorted(managers["user_id"]) == sorted(teams["manager"].unique())
    assert set(managers["role"]) == {"manager"}
    assert set(users["department_id"]) <= set(departments["department_id"])
    assert set(users["manager_user_id"].dropna()) <= set(users["user_id"])
    note = load_mapping("maven").inputs(MAVEN)["crm/departments"].note
    assert f"3 distinct regional_office values of {len(teams)} rows of sales_teams.csv" in note
    accounts, _ = maven["crm/accounts"]
    deals = vendor(MAVEN / "sales_pipeline.csv")
    first = deals[deals["engage_date"] != ""].groupby("account")["engage_date"].min()
    assert accounts["created_at"].tolist() == accounts["account_id"].map(first).tolist()
    assert "technolgy" not in set(accounts["industry"])
    opportunities, _ = maven["crm/opportunities"]
    assert set(opportunities["account_id"].dropna()) <= set(accounts["account_id"])
    assert set(opportunities["owner_user_id"]) <= set(users["user_id"])


# ------------------------------------------------------------------------------------------------ presets: olist


@pytest.fixture(scope="module")
def olist():
    return run(OLIST, "olist")


@needs_realdata
def test_olist_tables_and_text(olist):
    assert set(olist) == {"crm/departments", "crm/users", "crm/accounts", "crm/leads", "crm/lead_events",
                          "crm/opportunities", "crm/opportunity_stage_history", "campaign/contents",
                          "campaign/touches"}
    for key, (frame, _) in olist.items():
        assert_text_only(frame)
        assert_contract_values(key, frame)


@needs_realdata
def test_olist_leads_blank_origin_left_for_validation(olist):
    mqls = vendor(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    deals = vendor(OLIST / "olist_closed_deals_dataset.csv")
    name = "olist_marketing_qualified_leads_dataset.csv"
    for key in ("crm/leads", "crm/lead_events", "campaign/touches"):
        frame, rejections = olist[key]
        assert rows_from(frame, rejections, name) == (len(mqls), 0), key
    leads, _ = olist["crm/leads"]
    assert leads["channel"].isna().sum() == (mqls["origin"] == "").sum() > 0
    touches, _ = olist["campaign/touches"]
    assert touches["channel"].isna().sum() == (mqls["origin"] == "").sum()
    assert (leads["status"] == "converted").sum() == mqls["mql_id"].isin(deals["mql_id"]).sum()
    assert leads.loc[leads["channel"].notna() & (mqls["origin"] == "paid_search").to_numpy(), "channel"].eq(
        "SEM").all()
    won = leads.set_index("lead_id")["converted_at"].dropna()
    assert won.to_dict() == deals.set_index("mql_id")["won_date"].to_dict()
    contents, _ = olist["campaign/contents"]
    assert len(contents) == mqls["landing_page_id"].nunique()


@needs_realdata
def test_olist_deals_won_before_first_contact_left_for_validation(olist):
    mqls = vendor(OLIST / "olist_marketing_qualified_leads_dataset.csv")
    deals = vendor(OLIST / "olist_closed_deals_dataset.csv")
    joined = deals.merge(mqls, on="mql_id", how="left")
    early = (joined["won_date"].str[:10] < joined["first_contact_date"]).sum()
    assert early > 0
    name = "olist_closed_deals_dataset.csv"
    frame, rejections = olist["crm/opportunities"]
    assert rows_from(frame, rejections, name) == (len(deals), 0)
    assert (frame["close_date"].str[:10] < frame["created_at"].str[:10]).sum() == early
    assert set(frame["stage"]) == {"赢单"}
    accounts, _ = olist["crm/accounts"]
    assert rows_from(accounts, [], name) == (len(deals), 0)
    sellers = vendor(OLIST / "olist_sellers_dataset.csv").set_index("seller_id")["seller_state"]
    assert accounts["region"].notna().sum() == deals["seller_id"].isin(sellers.index).sum()
    history, rejections = olist["crm/opportunity_stage_history"]
    assert rows_from(history, rejections, name) == (len(deals), 0)
    assert rows_from(history, rejections, f"{name}#won") == (len(deals), 0)


@needs_realdata
def test_olist_users_from_sdr_and_sr_ids(olist):
    deals = vendor(OLIST / "olist_closed_deals_dataset.csv")
    users, _ = olist["crm/users"]
    assert users["user_id"].is_unique
    assert set(users["user_id"]) == set(deals["sr_id"]) | set(deals["sdr_id"])
    assert set(users.loc[users["role"] == "sales", "user_id"]) == set(deals["sr_id"])
    opportunities, _ = olist["crm/opportunities"]
    assert set(opportunities["owner_user_id"]) <= set(users["user_id"])
    departments, _ = olist["crm/departments"]
    assert set(users["department_id"]) == set(departments["department_id"]) == {"sdr", "sales"}


# ------------------------------------------------------------------------------------------------ presets: salesforce


@pytest.fixture(scope="module")
def salesforce():
    return run(SALESFORCE, "salesforce")


@needs_realdata
def test_salesforce_every_object_every_row(salesforce):
    files = {"crm/accounts": "Account.csv", "crm/leads": "Lead.csv", "crm/opportunities": "Opportunity.csv",
             "crm/opportunity_stage_history": "OpportunityHistory.csv", "campaign/campaigns": "Campaign.csv",
             "service/tickets": "Case.csv"}
    assert set(salesforce) == set(files) | {"crm/departments", "crm/users", "campaign/campaign_spend"}
    for key, (frame, rejections) in salesforce.items():
        assert_text_only(frame)
        assert_contract_values(key, frame)
        if key in files:
            assert rows_from(frame, rejections, files[key]) == (len(vendor(SALESFORCE / files[key])), 0), key
    campaigns = vendor(SALESFORCE / "Campaign.csv")
    spend, rejections = salesforce["campaign/campaign_spend"]
    with_cost = (campaigns["ActualCost"] != "").sum()
    assert rows_from(spend, rejections, "Campaign.csv") == (with_cost, len(campaigns) - with_cost)


@needs_realdata
def test_salesforce_users_derived_from_owners_without_user_csv(salesforce):
    owners = set()
    for name in ("Opportunity", "Account", "Lead", "Case", "Campaign"):
        owners |= set(vendor(SALESFORCE / f"{name}.csv")["OwnerId"])
    users, _ = salesforce["crm/users"]
    assert sorted(users["user_id"]) == sorted(owners)
    assert users.iloc[0][FILE] == "Opportunity.csv" and users.iloc[0][ROW] == 2
    departments, _ = salesforce["crm/departments"]
    assert departments["department_id"].tolist() == ["Salesforce"]
    assert set(users["department_id"]) == {"Salesforce"}


@needs_realdata
def test_salesforce_values(salesforce):
    raw = vendor(SALESFORCE / "Opportunity.csv")
    frame, _ = salesforce["crm/opportunities"]
    assert frame["created_at"].str.endswith("+00:00").all()  # Salesforce exports UTC
    assert frame["close_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (frame["opportunity_type"][raw["Type"] == ""] == "new").all()
    assert (frame["is_won"] == "true").sum() == (raw["IsWon"] == "1").sum()
    assert frame["CampaignId"].tolist() == raw["CampaignId"].tolist()  # an extra column, kept as exported
    leads, _ = salesforce["crm/leads"]
    assert leads["converted_account_id"].isna().all()  # 000000000000000AAA is the empty reference
    lead_raw = vendor(SALESFORCE / "Lead.csv")
    assert leads["contact_name"].tolist() == (lead_raw["FirstName"] + " " + lead_raw["LastName"]).tolist()
    # Cases closed before they were created (demo data) come out as exported; validation's order rule decides.
    tickets, _ = salesforce["service/tickets"]
    cases = vendor(SALESFORCE / "Case.csv")
    early = ((cases["ClosedDate"] != "") & (cases["ClosedDate"] < cases["CreatedDate"])).sum()
    assert (tickets["resolved_at"].dropna() < tickets.loc[tickets["resolved_at"].notna(), "opened_at"]).sum() == early


@needs_realdata
def test_salesforce_deleted_records_are_excluded_not_lost(tmp_path):
    raw = tmp_path / "export"
    shutil.copytree(SALESFORCE, raw)
    deals = vendor(raw / "Opportunity.csv")
    deals.loc[[3, 7], "IsDeleted"] = "1"
    deals.to_csv(raw / "Opportunity.csv", index=False)
    frame, rejections = collect(load_mapping("salesforce").inputs(raw), "crm/opportunities")
    assert rows_from(frame, rejections, "Opportunity.csv") == (len(deals) - 2, 2)
    assert sorted(r.row for r in rejections) == [5, 9]
    assert {r.rule for r in rejections} == {EXCLUDED_RULE}
    assert all("IsDeleted" in r.message for r in rejections)


def test_salesforce_with_user_csv_and_activities(tmp_path):
    """User.csv replaces the owner-derived users; UserRole names and reporting lines give roles; Task and Event
    become activities. Synthetic files with Salesforce's standard columns."""
    raw = tmp_path / "sf"
    u1, u2, u3 = "0051000000AAAAAAA1", "0051000000AAAAAAA2", "0051000000AAAAAAA3"
    write_csv(raw / "User.csv", [
        ["Id", "FirstName", "LastName", "Department", "UserRoleId", "ManagerId", "Title", "IsActive", "CreatedDate"],
        [u1, "Li", "Wei", "East", "00E1", "", "Head of Sales", "1", "2020-01-01 00:00:00"],
        [u2, "Wang", "Fang", "East", "00E2", u1, "", "1", "2020-01-01 00:00:00"],
        [u3, "", "Zhao", "", "", "000000000000000AAA", "", "0", "2020-01-01 00:00:00"]])
    write_csv(raw / "UserRole.csv", [["Id", "Name"], ["00E1", "VP Sales"], ["00E2", "SDR Team"]])
    write_csv(raw / "Opportunity.csv", [
        ["Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount", "CloseDate", "Type", "IsClosed", "IsWon",
         "OwnerId", "CreatedDate"],
        ["0061", "0", "0011", "Deal", "Needs Analysis", "100", "2024-02-01", "Renewal", "0", "0", u2,
         "2024-01-02T03:04:05.000Z"]])
    write_csv(raw / "Task.csv", [
        ["Id", "IsDeleted", "WhoId", "WhatId", "Subject", "Status", "OwnerId", "CreatedDate", "TaskSubtype",
         "CallDurationInSeconds"],
        ["00T1", "0", "00Q1", "0061", "Call", "Completed", u2, "2024-01-03 10:00:00", "Call", "125"],
        ["00T2", "false", "003X", "", "Mail", "Completed", u2, "2024-01-04 10:00:00", "Email", ""],
        ["00T3", "true", "", "", "Old", "Completed", u2, "2024-01-04 10:00:00", "Task", ""]])
    write_csv(raw / "Event.csv", [
        ["Id", "IsDeleted", "Subject", "OwnerId", "CreatedDate", "StartDateTime", "DurationInMinutes", "Type"],
        ["00U1", "0", "Visit", u1, "2024-01-05 01:00:00", "2024-01-06 02:00:00", "60", ""]])
    out = run(raw, "salesforce")
    users, _ = out["crm/users"]
    assert users["user_id"].tolist() == [u1, u2, u3]
    assert users["role"].tolist() == ["manager", "sdr", "sales"]
    assert users["user_name"].tolist() == ["Li Wei", "Wang Fang", "Zhao"]
    assert users["department_id"].tolist() == ["East", "East", "Salesforce"]
    assert users["manager_user_id"].tolist() == [None, u1, None]
    departments, _ = out["crm/departments"]
    assert departments["department_id"].tolist() == ["East", "Salesforce"]
    opportunity, _ = out["crm/opportunities"]
    assert opportunity.iloc[0][["stage", "opportunity_type", "created_at", "close_date"]].tolist() == [
        "需求确认", "renewal", "2024-01-02T03:04:05+00:00", "2024-02-01"]
    activities, rejections = out["crm/activities"]
    assert activities["activity_id"].tolist() == ["00T1", "00T2", "00U1"]
    assert activities["activity_type"].tolist() == ["call", "email", "meeting"]
    assert activities["lead_id"].tolist() == ["00Q1", None, None]
    assert activities["opportunity_id"].tolist() == ["0061", None, None]
    assert activities["duration_minutes"].tolist() == ["2", None, "60"]
    assert activities.iloc[2]["activity_at"] == "2024-01-06T02:00:00+00:00"
    assert [(r.file, r.row, r.rule) for r in rejections] == [("Task.csv", 4, EXCLUDED_RULE)]


# ------------------------------------------------------------------------------------------------ presets: zh


def _zh_builder():
    spec = importlib.util.spec_from_file_location("build_zh_export", ZH_FIXTURE / "build_zh_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zh_round_trip_equals_the_generator_output(tmp_path):
    """Generator output → Chinese export (GBK, BOM, xlsx, Chinese labels and dates) → zh mapping = the original."""
    from closedloop.generate import generate

    builder = _zh_builder()
    original, chinese = tmp_path / "raw", tmp_path / "zh"
    generate(original, scale=0.02, seed=3)
    builder.build(original, chinese)
    inputs = load_mapping("zh").inputs(chinese)
    assert set(inputs) == {t.key for t in contract.tables()}
    for table in contract.tables():
        expected = builder.read_contract(original, table)
        frame, rejections = collect(inputs, table.key)
        assert rejections == []
        assert_text_only(frame)
        columns = [c for c in table.column_names if c in expected.columns]
        assert columns == table.column_names
        got = frame[columns].astype(object).where(frame[columns].notna(), None)
        want = expected[columns].astype(object).where(expected[columns].notna(), None)
        assert got.to_dict("split")["data"] == want.to_dict("split")["data"], table.key
        assert frame[ROW].tolist() == list(range(2, len(frame) + 2))


def test_zh_fixture_maps_every_table():
    inputs = load_mapping("zh").inputs(ZH_FIXTURE)
    assert set(inputs) == {t.key for t in contract.tables()}
    assert inputs["crm/opportunities"].files == ["商机.xlsx"]
    for key in inputs:
        frame, rejections = collect(inputs, key)
        assert rejections == []
        assert_text_only(frame)
        assert_contract_values(key, frame)
        assert len(frame) > 0


# ------------------------------------------------------------------------------------------------ YAML features


def test_rename_candidates_and_case_insensitive_headers(tmp_path):
    out = map_tmp(tmp_path, """
tables:
  crm/leads:
    file: leads
    columns:
      lead_id: {column: [LeadNo, ID]}
      created_at: created
      channel: SOURCE
      status: Status
""", {"leads.csv": LEADS_ROWS})
    frame, _ = out["crm/leads"]
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3"]
    assert frame["channel"].tolist() == ["Web", "Fair", None]
    assert frame[FILE].tolist() == ["leads.csv"] * 3 and frame[ROW].tolist() == [2, 3, 4]
    assert list(frame.columns) == ["lead_id", "created_at", "channel", "status", FILE, ROW]


def test_const_and_null_const(tmp_path):
    columns = "      region: {const: 华东}\n      email: {const: ~}\n      phone: {const: ''}"
    out = map_tmp(tmp_path, leads_yaml(columns), {"leads.csv": LEADS_ROWS})
    frame, _ = out["crm/leads"]
    assert frame["region"].tolist() == ["华东"] * 3
    assert frame["email"].tolist() == [None] * 3 and frame["phone"].tolist() == [None] * 3


def test_value_map_default_passthrough_and_null_key(tmp_path):
    yaml_text = """
tables:
  crm/leads:
    file: leads
    columns:
      lead_id: Id
      created_at: Created
      channel: {column: Source, map: {Web: 官网, ~: 未知}}
      status: {column: Status, map: {Open: new, 'yes': 'true', '1': one}, default: disqualified}
"""
    rows = LEADS_ROWS + [["L4", "2024-01-08", " Web ", " Open "], ["L5", "2024-01-09", "Web", "yes"]]
    frame, _ = map_tmp(tmp_path, yaml_text, {"leads.csv": rows})["crm/leads"]
    assert frame["channel"].tolist() == ["官网", "Fair", "未知", "官网", "官网"]
    assert frame["status"].tolist() == ["new", "disqualified", "new", "new", "true"]


def test_yaml_scalars_stay_text(tmp_path):
    """`yes`, `on`, `1.50` and dates are vendor text, not booleans, numbers or dates."""
    m = parse_mapping("""
tables:
  crm/leads:
    file: leads
    columns:
      lead_id: Id
      created_at: Created
      channel: {column: Source, map: {yes: on, 1.50: 2024-01-01, true: False}}
      status: {const: 007}
""")
    spec = m.tables["crm/leads"].sources[0].columns
    assert spec["channel"].map == {"yes": "on", "1.50": "2024-01-01", "true": "False"}
    assert spec["status"].const == "007"


def test_dates_formats_dayfirst_excel_and_offset(tmp_path):
    yaml_text = """
tables:
  crm/opportunities:
    file: deals
    columns:
      opportunity_id: Id
      account_id: {const: A1}
      owner_user_id: {const: U1}
      created_at: {column: Created, date_format: ["%d.%m.%Y %H:%M", "%Y/%m/%d"], offset: "+08:00"}
      amount: {column: Amount, number: true}
      opportunity_type: {const: new}
      stage: {const: 赢单}
      is_closed: {const: "true"}
      is_won: {const: "true"}
      close_date: {column: Closed, dayfirst: true, excel_serial: true}
"""
    rows = [["Id", "Created", "Closed", "Amount"],
            ["O1", "31.12.2024 23:59", "31/12/2024", "¥1,234.50"],
            ["O2", "2024/02/03", "45597", "2,000"],
            ["O3", "2024-02-03T10:00:00", "5-6-24 10:30", "1234,50"],
            ["O4", "yesterday", "45597.75", ""]]
    frame, _ = map_tmp(tmp_path, yaml_text, {"deals.csv": rows})["crm/opportunities"]
    assert frame["created_at"].tolist() == ["2024-12-31T23:59:00+08:00", "2024-02-03", "2024-02-03T10:00:00",
                                            "yesterday"]
    # close_date is a date column: times are dropped
    assert frame["close_date"].tolist() == ["2024-12-31", "2024-11-01", "2024-06-05", "2024-11-01"]
    assert frame["amount"].tolist() == ["1234.50", "2000", "1234,50", None]


def test_expr_over_vendor_and_lookup_columns(tmp_path):
    yaml_text = """
tables:
  crm/accounts:
    file: accounts
    lookups:
      - file: deals
        key: account
        on: name
        columns: {first_deal: date, last_deal_max: date}
        aggregate: min
      - file: deals
        key: account
        on: {column: name, map: {Acme Inc: Acme}}
        columns: {any_owner: owner}
        aggregate: last
    columns:
      account_id: name
      account_name: {expr: "upper(name) || ' / ' || coalesce(first_deal, '-')"}
      created_at: first_deal
      owner_user_id: any_owner
      region: {expr: "CASE WHEN name = 'Zeta' THEN '' END"}
    keep: {first_seen: first_deal}
"""
    files = {"accounts.csv": [["name"], ["Acme Inc"], ["Beta"], ["Zeta"]],
             "deals.csv": [["account", "date", "owner"], ["Acme", "2024-03-01", "u1"], ["Beta", "2024-02-01", "u2"],
                           ["Acme", "2024-01-15", "u3"], ["Beta", "", "u4"]]}
    frame, _ = map_tmp(tmp_path, yaml_text, files)["crm/accounts"]
    assert frame["account_name"].tolist() == ["ACME INC / -", "BETA / 2024-02-01", "ZETA / -"]
    assert frame["created_at"].tolist() == [None, "2024-02-01", None]  # the `on` map applies to the 2nd lookup only
    assert frame["owner_user_id"].tolist() == ["u3", "u4", None]
    assert frame["region"].tolist() == [None, None, None]  # an empty result is null
    assert frame["first_seen"].tolist() == [None, "2024-02-01", None]


def test_lookup_aggregates(tmp_path):
    yaml_text = """
tables:
  crm/accounts:
    file: accounts
    lookups:
      - {file: deals, key: account, on: name, columns: {c_first: date}}
      - {file: deals, key: account, on: name, columns: {c_last: date}, aggregate: last}
      - {file: deals, key: account, on: name, columns: {c_min: date}, aggregate: min}
      - {file: deals, key: account, on: name, columns: {c_max: date}, aggregate: max}
    columns:
      account_id: name
      account_name: name
      created_at: {expr: "concat_ws('|', c_first, c_last, c_min, c_max)"}
"""
    files = {"accounts.csv": [["name"], ["A"]],
             "deals.csv": [["account", "date"], ["A", "2024-03-01"], ["A", "2024-01-01"], ["A", "2024-05-01"],
                           ["A", ""]]}
    frame, _ = map_tmp(tmp_path, yaml_text, files)["crm/accounts"]
    assert frame["created_at"].tolist() == ["2024-03-01|2024-01-01|2024-05-01"]  # last is empty: concat_ws skips


def test_optional_lookup_file_absent_gives_nulls(tmp_path):
    yaml_text = leads_yaml("      owner_user_id: owner", """    lookups:
      - {file: owners, key: lead, on: Id, columns: {owner: user}, optional: true}""")
    frame, _ = map_tmp(tmp_path, yaml_text, {"leads.csv": LEADS_ROWS})["crm/leads"]
    assert frame["owner_user_id"].tolist() == [None, None, None]


def test_where_excludes_rows_as_rejections(tmp_path):
    yaml_text = leads_yaml("", """    where:
      - keep: "Source IS NOT NULL"
        reason: no source
      - keep: "Status <> 'Won'"
        reason: won leads are opportunities""")
    rows = LEADS_ROWS + [["L4", "2024-01-08", "", "Won"]]
    frame, rejections = map_tmp(tmp_path, yaml_text, {"leads.csv": rows})["crm/leads"]
    assert frame["lead_id"].tolist() == ["L1"]
    assert [(r.file, r.row, r.column, r.rule, r.value, r.message) for r in rejections] == [
        ("leads.csv", 3, None, EXCLUDED_RULE, None, "won leads are opportunities"),
        ("leads.csv", 4, None, EXCLUDED_RULE, None, "no source"),
        ("leads.csv", 5, None, EXCLUDED_RULE, None, "no source")]


def test_where_shorthand_reason(tmp_path):
    yaml_text = leads_yaml("", '    where: "Status = \'Open\'"')
    frame, rejections = map_tmp(tmp_path, yaml_text, {"leads.csv": LEADS_ROWS})["crm/leads"]
    assert len(frame) == 2 and [r.row for r in rejections] == [3]
    assert "Status = 'Open'" in rejections[0].message


def test_distinct_dimension_with_provenance_and_shared_keys(tmp_path):
    yaml_text = """
tables:
  crm/departments:
    sources:
      - file: teams
        name: regions
        distinct: department_id
        columns:
          department_id: region
          department_name: region
      - file: teams
        name: teams
        distinct: department_id
        where: "team <> 'skip'"
        columns:
          department_id: team
          department_name: {expr: "team || ' team'"}
          parent_department_id: region
"""
    rows = [["agent", "team", "region"], ["a", "T1", "East"], ["b", "T1", "East"], ["c", "T2", ""],
            ["d", "East", "West"], ["e", "skip", "West"], ["f", "T3", "West"]]
    frame, rejections = map_tmp(tmp_path, yaml_text, {"teams.csv": rows})["crm/departments"]
    assert rejections == []
    assert frame[["department_id", FILE, ROW]].values.tolist() == [
        ["East", "teams.csv", 2], ["West", "teams.csv", 5],
        ["T1", "teams.csv#teams", 2], ["T2", "teams.csv#teams", 4], ["T3", "teams.csv#teams", 7]]
    inputs = load_mapping(tmp_path / "custom.yml").inputs(tmp_path / "raw")
    assert "2 distinct region values of 6 rows of teams.csv" in inputs["crm/departments"].note
    assert "3 distinct team values of 6 rows of teams.csv#teams" in inputs["crm/departments"].note


def test_union_of_files_and_unless_file(tmp_path):
    yaml_text = """
tables:
  crm/users:
    sources:
      - file: staff
        columns: {user_id: id, user_name: name, department_id: {const: D}, role: {const: sales}}
      - file: [deals, tickets]
        unless_file: staff
        distinct: user_id
        columns: {user_id: owner, user_name: owner, department_id: {const: D}, role: {const: sales}}
"""
    files = {"deals.csv": [["owner"], ["u1"], ["u2"], ["u1"]], "tickets.csv": [["owner"], ["u3"], ["u2"]]}
    frame, _ = map_tmp(tmp_path, yaml_text, files)["crm/users"]
    assert frame[["user_id", FILE, ROW]].values.tolist() == [["u1", "deals.csv", 2], ["u2", "deals.csv", 3],
                                                             ["u3", "tickets.csv", 2]]
    write_csv(tmp_path / "raw" / "staff.csv", [["id", "name"], ["s1", "Sam"]])
    frame, _ = collect(load_mapping(tmp_path / "custom.yml").inputs(tmp_path / "raw"), "crm/users")
    assert frame["user_id"].tolist() == ["s1"]


def test_same_file_twice_is_labelled_per_source(tmp_path):
    yaml_text = """
tables:
  crm/lead_events:
    sources:
      - file: leads
        columns: {lead_id: Id, event_at: Created, event_type: {const: created}}
      - file: leads
        name: converted
        where: {keep: "Status = 'Won'", reason: not converted}
        columns: {lead_id: Id, event_at: Created, event_type: {const: converted}}
"""
    frame, rejections = map_tmp(tmp_path, yaml_text, {"leads.csv": LEADS_ROWS})["crm/lead_events"]
    assert frame[[FILE, ROW]].values.tolist() == [["leads.csv", 2], ["leads.csv", 3], ["leads.csv", 4],
                                                  ["leads.csv#converted", 3]]
    assert [(r.file, r.row) for r in rejections] == [("leads.csv#converted", 2), ("leads.csv#converted", 4)]


def test_optional_columns_and_keep(tmp_path):
    yaml_text = leads_yaml("      email: Mail\n      phone: {expr: \"coalesce(Mobile, 'none')\"}",
                           "    optional_columns: [Mail, Mobile]\n    keep: [Status]".replace(
                               "[Status]", "{vendor_status: Status}"))
    frame, _ = map_tmp(tmp_path, yaml_text, {"leads.csv": LEADS_ROWS})["crm/leads"]
    assert frame["email"].tolist() == [None] * 3 and frame["phone"].tolist() == ["none"] * 3
    assert frame["vendor_status"].tolist() == ["Open", "Won", "Open"]


def test_file_patterns_stems_parts_globs_and_folders(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "Lead.csv", LEADS_ROWS[:2])
    write_csv(raw / "lead_2024-02.csv", [LEADS_HEADER, ["L9", "2024-02-01", "Web", "Open"]])
    write_csv(raw / "LeadHistory.csv", [LEADS_HEADER, ["X", "2024-02-01", "Web", "Open"]])
    write_csv(raw / "~$Lead.csv", [LEADS_HEADER, ["X", "2024-02-01", "Web", "Open"]])
    write_csv(raw / "sub" / "more.csv", [LEADS_HEADER, ["L8", "2024-02-01", "Web", "Open"]])
    for pattern, expected in [("Lead", ["Lead.csv", "lead_2024-02.csv"]), ("lead*.csv", [
            "Lead.csv", "LeadHistory.csv", "lead_2024-02.csv"]), ("sub/*", ["sub/more.csv"]),
            ("Lead.csv", ["Lead.csv"])]:
        text = leads_yaml("").replace("file: leads", f"file: '{pattern}'")
        inputs = load_mapping(mapping_file(tmp_path, text)).inputs(raw)
        assert inputs["crm/leads"].files == expected, pattern


def test_xlsx_and_gbk_vendor_files(tmp_path):
    from openpyxl import Workbook

    raw = tmp_path / "raw"
    raw.mkdir()
    book = Workbook()
    for row in [["编号", "创建时间", "渠道", "状态"], ["L1", "2024/01/05 10:00:00", "官网", "新建"]]:
        book.active.append(row)
    book.save(raw / "线索.xlsx")
    write_csv(raw / "线索_2.csv", [["编号", "创建时间", "渠道", "状态"], ["L2", "2024/01/06", "展会", "无效"]], "gbk")
    text = """
tables:
  crm/leads:
    file: 线索
    columns:
      lead_id: 编号
      created_at: {column: 创建时间, date_format: ["%Y/%m/%d %H:%M:%S", "%Y/%m/%d"]}
      channel: 渠道
      status: {column: 状态, map: {新建: new, 无效: disqualified}}
"""
    frame, _ = collect(load_mapping(mapping_file(tmp_path, text)).inputs(raw), "crm/leads")
    assert frame.drop(columns=[ROW]).values.tolist() == [
        ["L1", "2024-01-05T10:00:00", "官网", "new", "线索.xlsx"],
        ["L2", "2024-01-06", "展会", "disqualified", "线索_2.csv"]]


def test_chunking_does_not_change_the_result(tmp_path):
    rows = [LEADS_HEADER] + [[f"L{i}", f"2024-01-{i % 28 + 1:02d}", ["Web", "", "Fair"][i % 3], "Open"]
                             for i in range(25)]
    yaml_text = leads_yaml("", '    where: {keep: "Source IS NOT NULL", reason: r}')
    whole = map_tmp(tmp_path, yaml_text, {"leads.csv": rows})["crm/leads"]
    chunked = map_tmp(tmp_path, yaml_text, {"leads.csv": rows}, chunk_rows=4)["crm/leads"]
    pd.testing.assert_frame_equal(whole[0], chunked[0])
    assert whole[1] == chunked[1]


def test_reader_rejections_pass_through(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "leads.csv").write_text("Id,Created,Source,Status\nL1,2024-01-05,Web,Open\nL2,oops\n"
                                   "L3,2024-01-07,Fair,Open\n", encoding="utf-8")
    yaml_text = leads_yaml("", '    where: {keep: "Source <> \'Fair\'", reason: fairs are not leads}')
    frame, rejections = collect(load_mapping(mapping_file(tmp_path, yaml_text)).inputs(raw), "crm/leads")
    assert frame["lead_id"].tolist() == ["L1"]
    assert [(r.row, r.rule) for r in rejections] == [(3, "field_count"), (4, EXCLUDED_RULE)]


def test_absent_vendor_file_means_absent_table(tmp_path):
    yaml_text = leads_yaml("") + """
  crm/users:
    file: staff
    columns: {user_id: id, user_name: id, department_id: {const: D}, role: {const: sales}}
"""
    out = map_tmp(tmp_path, yaml_text, {"leads.csv": LEADS_ROWS})
    assert set(out) == {"crm/leads"}


def test_presets_load_and_are_listed():
    assert presets() == ["maven", "olist", "salesforce", "zh"]
    for name in presets():
        m = load_mapping(name)
        assert m.name == name and m.tables


# ------------------------------------------------------------------------------------------------ errors


def error(tmp_path: Path, yaml_text: str, files: dict | None = None) -> str:
    with pytest.raises(MappingError) as info:
        map_tmp(tmp_path, yaml_text, files if files is not None else {"leads.csv": LEADS_ROWS})
    return str(info.value)


def test_unknown_preset_lists_presets():
    with pytest.raises(MappingError, match="unknown mapping `hubspot`: the presets are maven, olist, salesforce, zh"):
        load_mapping("hubspot")
    assert issubclass(MappingError, SourceError)


def test_missing_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping(tmp_path / "nope.yml")


@pytest.mark.parametrize(("text", "message"), [
    ("tables: [", "invalid YAML"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: a}}}\ntables: {}", "duplicate key `tables`"),
    ("tabels: {}", "top level: unknown key `tabels`"),
    ("tables: {crm/lead: {file: a, columns: {lead_id: a}}}", "`crm/lead` is not a contract table"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: a, created_at: a, channel: a, status: a, colour: a}}}",
     "tables.crm/leads.columns.colour: `colour` is not a column of `crm/leads`"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: a}}}",
     "required column(s) created_at, channel, status of `crm/leads` are not mapped"),
    ("tables: {crm/leads: {file: a, colums: {}}}", "unknown key `colums`"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: {column: a, maps: {}}, created_at: a, channel: a, status: a}}}",
     "tables.crm/leads.columns.lead_id: unknown key `maps`"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: {column: a, const: b}, created_at: a, channel: a, status: a}}}",
     "exactly one of `column`, `const` or `expr`"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: {column: a, default: b}, created_at: a, channel: a, "
     "status: a}}}", "`default` only applies to a `map`"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: a, created_at: {column: a, date_format: '%Y', offset: '8'}, "
     "channel: a, status: a}}}", "is not a UTC offset"),
    ("tables: {crm/leads: {file: a, columns: {lead_id: a, created_at: {column: a, dayfirst: yes}, channel: a, "
     "status: a}}}", "expected true or false"),
    ("tables: {crm/leads: {file: a, keep: [Status], columns: {lead_id: a, created_at: a, channel: a, status: a}}}",
     "`Status` is a contract column of `crm/leads`"),
    ("tables: {crm/leads: {file: a, lookups: [{file: b, key: k, columns: [c], aggregate: sum}], "
     "columns: {lead_id: a, created_at: a, channel: a, status: a}}}", "`sum` is not one of first, last, min, max"),
    ("tables: {crm/leads: {file: a, distinct: region, columns: {lead_id: a, created_at: a, channel: a, status: a}}}",
     "`region` is not one of this source's columns"),
])
def test_invalid_mapping_files(tmp_path, text, message):
    path = mapping_file(tmp_path, text, "bad.yml")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)


def test_missing_vendor_column_names_mapping_file_and_column(tmp_path):
    text = leads_yaml("      email: Mail")
    message = error(tmp_path, text)
    assert "custom.yml" in message and "leads.csv" in message and "`Mail`" in message
    assert "`crm/leads.email`" in message and "columns found: Id, Created, Source, Status" in message


def test_bad_expression_names_file_and_expression(tmp_path):
    message = error(tmp_path, leads_yaml("      email: {expr: \"lower(Mail)\"}"))
    assert "leads.csv" in message and "`crm/leads.email`" in message and "lower(Mail)" in message
    assert '"Mail" not found' in message
    assert "no aggregates" in error(tmp_path, leads_yaml("      email: {expr: \"max(Id)\"}"))
    assert "a `where` filter" in error(tmp_path, leads_yaml("", '    where: "Nope = 1"'))


def test_expressions_cannot_read_files(tmp_path):
    message = error(tmp_path, leads_yaml("      email: {expr: \"(SELECT 'x' FROM read_csv('/etc/hostname'))\"}"))
    assert "cannot be evaluated" in message


def test_lookup_problems(tmp_path):
    text = leads_yaml("      owner_user_id: owner", "    lookups: [{file: owners, key: lead, on: Id, "
                      "columns: {owner: user}}]")
    assert "needs owners (a lookup) but no such file" in error(tmp_path, text)
    message = error(tmp_path, text, {"leads.csv": LEADS_ROWS, "owners.csv": [["lead", "usr"], ["L1", "u"]]})
    assert "owners.csv" in message and "`user`" in message
    clash = leads_yaml("", "    lookups: [{file: owners, key: lead, on: Id, columns: {Status: usr}}]")
    assert "already has" in error(tmp_path, clash, {"leads.csv": LEADS_ROWS, "owners.csv": [["lead", "usr"]]})


def test_raw_folder_must_exist(tmp_path):
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping("maven").inputs(tmp_path / "missing")
