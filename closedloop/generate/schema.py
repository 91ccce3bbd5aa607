"""The raw-input contract of docs/input-contract.md, as the generator writes it.

Inside the generator a table is a *frame*: ``dict[column, values]`` where values are

* numpy int64 for kinds ``id:<prefix>`` (the number behind e.g. ``L00000042``), ``ts``
  (seconds), ``date`` (days), ``money`` (cents) and ``int`` -- ``NA`` (-1) is null;
* numpy bool for ``bool``;
* a :class:`Cat` (codes into a vocabulary) or a pyarrow string array for ``str``.

Keeping ids, times and amounts numeric until the writer means joins and arithmetic stay
cheap numpy operations, and formatting happens once, in Arrow, per part file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

Frame = dict[str, object]


@dataclass(frozen=True)
class Cat:
    """A string column as codes into a small vocabulary (code -1 = null)."""

    codes: np.ndarray
    vocab: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, idx: np.ndarray) -> Cat:
        return Cat(self.codes[idx], self.vocab)


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # id:<prefix> | ts | date | money | int | bool | str
    required: bool = False


def _c(spec: str) -> Col:
    """'name kind' with a trailing * for required, e.g. 'lead_id id:L *'."""
    parts = spec.split()
    return Col(parts[0], parts[1], len(parts) > 2 and parts[2] == "*")


def _t(*specs: str) -> tuple[Col, ...]:
    return tuple(_c(s) for s in specs)


TABLES: dict[str, tuple[str, tuple[Col, ...]]] = {
    "departments": ("crm", _t("department_id id:D *", "department_name str *", "parent_department_id id:D",
                              "region str")),
    "users": ("crm", _t("user_id id:U *", "user_name str *", "department_id id:D *", "role str *",
                        "manager_user_id id:U", "hired_at ts", "left_at ts")),
    "accounts": ("crm", _t("account_id id:A *", "account_name str *", "created_at ts *", "industry str",
                           "company_size str", "region str", "grade str", "owner_user_id id:U",
                           "source_lead_id id:L", "referred_by_account_id id:A")),
    "contacts": ("crm", _t("contact_id id:C *", "account_id id:A *", "contact_name str", "decision_role str",
                           "email str", "phone str", "created_at ts")),
    "leads": ("crm", _t("lead_id id:L *", "created_at ts *", "channel str *", "status str *", "campaign_id id:CP",
                        "company_name str", "contact_name str", "email str", "phone str", "wechat_openid str",
                        "industry str", "region str", "owner_user_id id:U", "referrer_account_id id:A",
                        "converted_at ts", "converted_account_id id:A", "converted_opportunity_id id:O",
                        "disqualify_reason str")),
    "lead_events": ("crm", _t("lead_id id:L *", "event_at ts *", "event_type str *", "user_id id:U", "reason str")),
    "ownership_events": ("crm", _t("entity_type str *", "entity_id str *", "event_at ts *", "event_type str *",
                                   "user_id id:U", "reason str")),
    "opportunities": ("crm", _t("opportunity_id id:O *", "account_id id:A *", "owner_user_id id:U *",
                                "created_at ts *", "amount money *", "opportunity_type str *", "stage str *",
                                "is_closed bool *", "is_won bool *", "opportunity_name str", "source_lead_id id:L",
                                "close_date date", "loss_reason str")),
    "opportunity_stage_history": ("crm", _t("opportunity_id id:O *", "stage str *", "entered_at ts *",
                                            "owner_user_id id:U", "amount money")),
    "activities": ("crm", _t("activity_id id:AC *", "activity_at ts *", "user_id id:U *", "activity_type str *",
                             "lead_id id:L", "account_id id:A", "opportunity_id id:O", "duration_minutes int",
                             "outcome str")),
    "campaigns": ("campaign", _t("campaign_id id:CP *", "campaign_name str *", "channel str *", "campaign_type str",
                                 "start_date date", "end_date date", "budget money", "department_id id:D")),
    "campaign_spend": ("campaign", _t("campaign_id id:CP *", "spend_date date *", "spend money *", "impressions int",
                                      "clicks int")),
    "contents": ("campaign", _t("content_id id:CT *", "title str *", "content_type str", "campaign_id id:CP",
                                "published_at ts")),
    "touches": ("campaign", _t("touch_id id:TC *", "touched_at ts *", "channel str *", "touch_type str *",
                               "campaign_id id:CP", "content_id id:CT", "anonymous_id str", "device_id str",
                               "wechat_openid str", "wechat_unionid str", "email str", "phone str", "lead_id id:L")),
    "orders": ("service", _t("order_id id:OD *", "account_id id:A *", "order_date date *", "amount money *",
                             "order_type str *", "opportunity_id id:O", "subscription_start date",
                             "subscription_end date")),
    "tickets": ("service", _t("ticket_id id:TK *", "account_id id:A *", "opened_at ts *", "resolved_at ts",
                              "priority str", "category str", "channel str", "csat int")),
}

# Event-sized tables: one part file per chunk of leads, always named <table>_0001.<ext>.
PART_TABLES: frozenset[str] = frozenset({
    "leads", "lead_events", "ownership_events", "activities", "touches", "opportunity_stage_history",
    "opportunities", "orders",
})

# Id prefixes, default digits, and an upper estimate of rows per unit of scale (sizes the digits).
ID_SPECS: dict[str, tuple[int, float]] = {
    "D": (3, 0), "U": (3, 110), "L": (8, 10_000), "O": (7, 4_500), "A": (6, 4_000), "C": (7, 8_500),
    "AC": (8, 80_000), "TC": (9, 55_000), "OD": (7, 3_000), "TK": (7, 9_000), "CP": (4, 60), "CT": (4, 120),
}


def id_widths(scale: float) -> dict[str, int]:
    """Digits per id prefix: the default (L00000001, U001 ...), widened only when the scale needs it.

    An id that still outgrows its width keeps all its digits (see writer.fixed_ids).
    """
    out = {}
    for prefix, (default, per_scale) in ID_SPECS.items():
        need = len(str(math.ceil(per_scale * max(scale, 1e-9) * 1.25))) if per_scale else 0
        out[prefix] = max(default, need)
    return out


def frame_len(frame: Frame) -> int:
    first = next(iter(frame.values()))
    return len(first)  # type: ignore[arg-type]


def take_frame(frame: Frame, idx: np.ndarray) -> Frame:
    """Row subset/reorder of every column of a frame."""
    out: Frame = {}
    for k, v in frame.items():
        if isinstance(v, Cat):
            out[k] = v.take(idx)
        elif isinstance(v, (pa.Array, pa.ChunkedArray)):
            out[k] = v.take(pa.array(idx))
        else:
            out[k] = np.asarray(v)[idx]
    return out
