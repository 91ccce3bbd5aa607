"""One more day of CRM exports for a generated sample: what an incremental build has to absorb.

`append_day(raw, day)` writes new part files (`crm/leads_<day>.csv`, `crm/lead_events_<day>.csv`, …) next to the
generator's, the way a daily export lands in a cumulative raw folder. Besides the day's new leads, events,
assignments, activities and touches, it plants the cases an incremental build gets wrong when it only appends:

- late rows: a lead event, an ownership event and an activity dated inside the look-back window (before the
  previous build's latest event), on leads created long before;
- updated records: an open opportunity advanced a stage with a new amount, another closed won (each with its new
  stage-history row), an open lead handed to a rep of another department, a lead disqualified months ago now
  converted with a new opportunity, and (with `move_user`) a rep moved to another department;
- a touch carrying one known person's e-mail and another's phone: two persons merge into one.

Used by tests/test_incremental.py and for the scale-10 figures in docs/build-figures.md.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb


class _Tables:
    """The raw folder's tables as DuckDB views over all their CSV part files (text, later files last), so a day
    can be planted in a sample of any size without holding a table in memory: every pick is a query."""

    def __init__(self, raw: Path, seed: int):
        self.raw, self.seed = raw, seed
        self.con = duckdb.connect()

    def close(self) -> None:
        self.con.close()

    def view(self, table: str, key: str | None = None) -> str:
        """A relation over every part of `table`; with `key`, the latest version of each record only (a later
        part file's row is the newer version, as landing reads it)."""
        files = sorted((self.raw / table).parent.glob(f"{Path(table).name}*.csv"))
        listed = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
        relation = f"read_csv({listed}, all_varchar = true, union_by_name = true, filename = true)"
        if key is None:
            return f"(select * exclude (filename) from {relation})"
        return (f"(select * exclude (filename) from {relation} "
                f"qualify row_number() over (partition by {key} order by filename desc) = 1)")

    def rows(self, sql: str, params: list | None = None) -> list[dict]:
        cursor = self.con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def value(self, sql: str):
        return self.con.execute(sql).fetchall()[0][0]

    def columns(self, table: str) -> list[str]:
        return [d[0] for d in self.con.execute(f"select * from {self.view(table)} limit 0").description]

    def pick(self, table: str, key: str, where: str = "true", n: int = 1, params: list | None = None) -> list[dict]:
        """`n` records of `table` matching `where`, a seeded pseudo-random choice that is the same every run."""
        return self.rows(f"select * from {self.view(table, key)} where {where} "
                         f"order by hash({key}, {int(self.seed)}), {key} limit {int(n)}", params)

    def next_id(self, table: str, column: str, prefix: str) -> callable:
        width, last = self.con.execute(
            f"select max(length({column})), max(cast(substr({column}, {len(prefix) + 1}) as bigint)) "
            f"from {self.view(table)} where starts_with({column}, '{prefix}')").fetchall()[0]
        width -= len(prefix)
        counter = [last]

        def take() -> str:
            counter[0] += 1
            return f"{prefix}{counter[0]:0{width}d}"

        return take


def _write(raw: Path, table: str, day: date, rows: list[dict], columns: list[str]) -> Path:
    path = raw / f"{table}_{day.isoformat()}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row[c]) for c in columns})
    return path


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def append_day(raw: Path, day: date, seed: int = 0, move_user: bool = True) -> dict:
    """Write one day of exports into `raw` as new part files; return what was planted (ids and dates)."""
    rng = random.Random(seed)
    at = lambda h, m=0, d=day: datetime.combine(d, time(h, m, rng.randrange(60)))  # noqa: E731

    tables = _Tables(raw, seed)
    try:
        return _plant(tables, raw, day, rng, at, move_user)
    finally:
        tables.close()


def _plant(t: _Tables, raw: Path, day: date, rng: random.Random, at, move_user: bool) -> dict:
    users = t.rows(f"select * from {t.view('crm/users', 'user_id')} order by user_id")
    lead_columns = t.columns("crm/leads")
    opp_columns = t.columns("crm/opportunities")
    leads_view = t.view("crm/leads", "lead_id")

    sales = [u for u in users if u["role"] in ("sales", "sdr") and not u["left_at"]]
    dept_of = {u["user_id"]: u["department_id"] for u in users}
    channels = [r[0] for r in t.con.execute(f"select distinct channel from {leads_view} order by 1").fetchall()]
    new_lead_id = t.next_id("crm/leads", "lead_id", "L")
    new_opp_id = t.next_id("crm/opportunities", "opportunity_id", "O")
    new_activity_id = t.next_id("crm/activities", "activity_id", "AC")
    new_touch_id = t.next_id("campaign/touches", "touch_id", "TC")
    known_owner = f"owner_user_id in (select user_id from {t.view('crm/users')})"

    new_leads, new_events, new_ownership, new_activities, new_touches = [], [], [], [], []
    new_opps, new_history, new_users = [], [], []

    # the day's new leads, each assigned, most contacted and some qualified
    per_day = max(5, round(t.value(f"select count(*) from {leads_view}") / 730))
    templates = t.pick("crm/leads", "lead_id", n=min(per_day, 1000))
    for _ in range(per_day):
        owner = rng.choice(sales)["user_id"]
        created = at(rng.randrange(8, 18), rng.randrange(60))
        lead_id = new_lead_id()
        template = rng.choice(templates)
        new_leads.append({**{c: template.get(c) for c in ("company_name", "contact_name", "industry", "region")},
                          "lead_id": lead_id, "created_at": _ts(created), "channel": rng.choice(channels),
                          "status": "new", "owner_user_id": owner})
        new_events.append({"lead_id": lead_id, "event_at": _ts(created), "event_type": "created", "user_id": owner})
        assigned = created + timedelta(minutes=rng.randrange(5, 60))
        new_ownership.append({"entity_type": "lead", "entity_id": lead_id, "event_at": _ts(assigned),
                              "event_type": "assigned", "user_id": owner, "reason": "按区域自动分配"})
        if rng.random() < 0.7:
            contacted = assigned + timedelta(minutes=rng.randrange(10, 240))
            new_events.append({"lead_id": lead_id, "event_at": _ts(contacted), "event_type": "contacted",
                               "user_id": owner})
            new_activities.append({"activity_id": new_activity_id(), "activity_at": _ts(contacted), "user_id": owner,
                                   "activity_type": "call", "lead_id": lead_id,
                                   "duration_minutes": rng.randrange(1, 20), "outcome": "已接通"})
            if rng.random() < 0.3:
                new_events.append({"lead_id": lead_id, "event_at": _ts(contacted + timedelta(minutes=30)),
                                   "event_type": "mql", "user_id": owner})
    for _ in range(per_day * 4):
        new_touches.append({"touch_id": new_touch_id(), "touched_at": _ts(at(rng.randrange(0, 24), rng.randrange(60))),
                            "channel": "官网", "touch_type": "page_view",
                            "anonymous_id": f"ck{rng.getrandbits(64):016x}"})

    # one form filled with a known person's e-mail and another known person's phone: the day merges two persons
    merged = t.pick("crm/leads", "lead_id", "email like '%_@_%' and length(regexp_replace(phone, '[^0-9]', '', 'g')) "
                    "= 11 and lower(email) not similar to '(test|noreply|info).*'", 2)
    new_touches.append({"touch_id": new_touch_id(), "touched_at": _ts(at(10, 0)), "channel": "官网",
                        "touch_type": "form_submit", "email": merged[0]["email"], "phone": merged[1]["phone"]})

    open_statuses = {"new", "contacted", "nurturing", "mql", "sql"}
    latest = datetime.fromisoformat(t.value(f"select max(event_at) from {t.view('crm/lead_events')}"))
    statuses = ", ".join(f"'{s}'" for s in sorted(open_statuses))
    late_lead, handed_lead, released_lead = t.pick(
        "crm/leads", "lead_id", f"status in ({statuses}) and {known_owner} and created_at < ?", 3,
        [_ts(latest - timedelta(days=60))])

    # late rows: dated a day before the previous build's latest event, inside the look-back window
    late_day = (latest - timedelta(days=1)).date()
    new_events.append({"lead_id": late_lead["lead_id"], "event_at": _ts(at(11, 0, late_day)),
                       "event_type": "disqualified", "user_id": late_lead["owner_user_id"], "reason": "预算不足"})
    new_activities.append({"activity_id": new_activity_id(), "activity_at": _ts(at(10, 0, late_day)),
                           "user_id": late_lead["owner_user_id"], "activity_type": "call",
                           "lead_id": late_lead["lead_id"], "duration_minutes": 3, "outcome": "需再跟进"})
    new_ownership.append({"entity_type": "lead", "entity_id": released_lead["lead_id"],
                          "event_at": _ts(at(12, 0, late_day)), "event_type": "released",
                          "user_id": released_lead["owner_user_id"], "reason": "超期未跟进"})

    # an open lead handed to a rep of another department: a newer version of its record, and the transfer
    other = [u for u in sales if u["department_id"] != dept_of[handed_lead["owner_user_id"]]]
    new_owner = rng.choice(other)["user_id"]
    new_leads.append({**{c: handed_lead.get(c) for c in lead_columns}, "owner_user_id": new_owner})
    new_ownership.append({"entity_type": "lead", "entity_id": handed_lead["lead_id"], "event_at": _ts(at(9, 30)),
                          "event_type": "transferred", "user_id": new_owner, "reason": "主管调配"})

    # a lead disqualified months ago comes back and converts, with a new opportunity
    [revived] = t.pick("crm/leads", "lead_id", f"status = 'disqualified' and {known_owner} and created_at < ?", 1,
                       [_ts(latest - timedelta(days=120))])
    account_row, held_account = t.pick("crm/accounts", "account_id", n=2)
    account = account_row["account_id"]
    converted_at = at(14, 0)
    revived_opp = new_opp_id()
    new_leads.append({**{c: revived.get(c) for c in lead_columns}, "status": "converted",
                      "converted_at": _ts(converted_at), "converted_account_id": account,
                      "converted_opportunity_id": revived_opp, "disqualify_reason": None})
    new_events.append({"lead_id": revived["lead_id"], "event_at": _ts(converted_at), "event_type": "converted",
                       "user_id": revived["owner_user_id"]})
    new_opps.append({"opportunity_id": revived_opp, "account_id": account, "owner_user_id": revived["owner_user_id"],
                     "created_at": _ts(converted_at + timedelta(minutes=5)), "amount": "88000.00",
                     "opportunity_type": "new", "stage": "初步接洽", "is_closed": "false", "is_won": "false",
                     "opportunity_name": "回流线索-营销云新购", "source_lead_id": revived["lead_id"]})
    new_history.append({"opportunity_id": revived_opp, "stage": "初步接洽",
                        "entered_at": _ts(converted_at + timedelta(minutes=5)),
                        "owner_user_id": revived["owner_user_id"], "amount": "88000.00"})

    # two open opportunities move: one advances a stage with a new amount, one is won
    open_opps = (f"select * from {t.view('crm/opportunities', 'opportunity_id')} "
                 "where is_closed = 'false' and stage in ('需求确认', '方案交流') order by opportunity_id")
    [advanced] = t.rows(open_opps + " limit 1")
    [won] = t.rows(open_opps.replace("order by opportunity_id", "order by opportunity_id desc") + " limit 1")
    next_stage = {"需求确认": "方案交流", "方案交流": "招投标"}[advanced["stage"]]
    new_amount = f"{float(advanced['amount']) * 1.1:.2f}"
    new_opps.append({**advanced, "stage": next_stage, "amount": new_amount})
    new_history.append({"opportunity_id": advanced["opportunity_id"], "stage": next_stage, "entered_at": _ts(at(11)),
                        "owner_user_id": advanced["owner_user_id"], "amount": new_amount})
    new_opps.append({**won, "stage": "赢单", "is_closed": "true", "is_won": "true", "close_date": day.isoformat()})
    new_history.append({"opportunity_id": won["opportunity_id"], "stage": "赢单", "entered_at": _ts(at(16)),
                        "owner_user_id": won["owner_user_id"], "amount": won["amount"]})

    # an account handed over
    new_ownership.append({"entity_type": "account", "entity_id": held_account["account_id"], "event_at": _ts(at(10)),
                          "event_type": "transferred", "user_id": rng.choice(sales)["user_id"], "reason": "主管调配"})

    moved_user = None
    if move_user:
        # a rep with leads and deals moves to another department: every fact that reads the owner's department moves
        owners = {r[0] for r in t.con.execute(
            f"select distinct owner_user_id from {t.view('crm/opportunities')}").fetchall()}
        mover = next(u for u in sorted(sales, key=lambda u: u["user_id"]) if u["user_id"] in owners)
        departments = sorted({u["department_id"] for u in sales} - {mover["department_id"]})
        new_users.append({**mover, "department_id": departments[0]})
        moved_user = mover["user_id"]

    crm = raw / "crm"
    _write(crm, "leads", day, new_leads, lead_columns)
    _write(crm, "lead_events", day, new_events, ["lead_id", "event_at", "event_type", "user_id", "reason"])
    _write(crm, "ownership_events", day, new_ownership,
           ["entity_type", "entity_id", "event_at", "event_type", "user_id", "reason"])
    _write(crm, "activities", day, new_activities, ["activity_id", "activity_at", "user_id", "activity_type", "lead_id",
                                                     "account_id", "opportunity_id", "duration_minutes", "outcome"])
    _write(crm, "opportunities", day, new_opps, opp_columns)
    _write(crm, "opportunity_stage_history", day, new_history,
           ["opportunity_id", "stage", "entered_at", "owner_user_id", "amount"])
    if new_users:
        _write(crm, "users", day, new_users, list(users[0]))
    _write(raw / "campaign", "touches", day, new_touches,
           ["touch_id", "touched_at", "channel", "touch_type", "campaign_id", "content_id", "anonymous_id",
            "device_id", "wechat_openid", "wechat_unionid", "email", "phone", "lead_id"])
    return {
        "new_leads": per_day, "merged_leads": [merged[0]["lead_id"], merged[1]["lead_id"]],
        "late_lead": late_lead["lead_id"], "late_day": late_day.isoformat(),
        "handed_lead": handed_lead["lead_id"], "released_lead": released_lead["lead_id"],
        "revived_lead": revived["lead_id"], "revived_opportunity": revived_opp,
        "advanced_opportunity": advanced["opportunity_id"], "advanced_amount": new_amount,
        "won_opportunity": won["opportunity_id"], "moved_user": moved_user,
    }
