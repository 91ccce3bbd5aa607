"""The follow-up loop (docs/metrics.md#follow-up-status): feedback spelled a little differently from the seed, and
reps who recontact lost deals' accounts on time or not, per department.

Both draw from their own random stream (``followup_rng``), so the rest of a chunk — and every other planted truth —
is the same as without them; same seed, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import vocab as V
from .activities import ACT, ActivityLog
from .company import Staff
from .schema import Cat, Frame
from .timeutil import DAY, WINDOW_END, office_seconds

# seeds/lead_feedback_reasons.csv: recontact_after_days per reason (None: no follow-up)
RECONTACT_DAYS: dict[str, int | None] = {"明年再买": 300, "需求不明确": 60, "预算不足": 120, "输给竞品": 330,
                                         "无决策权": 30, "联系不上": 14, "无效线索": None, "重复线索": None}
EARLY_DAYS, GRACE_DAYS = 7, 7  # vars followup_early_days, followup_grace_days

# How reps write a reason when they do not pick it from the list: a trailing space, traditional characters
# (Taiwan/HK colleagues, a traditional IME), full-width letters, a synonym the seed's users would add as an alias.
VARIANTS: dict[str, tuple[str, ...]] = {
    "明年再买": ("明年再买 ", "明年再買", "明年采购"),
    "需求不明确": ("需求不明確", "需求不清晰", " 需求不明确"),
    "预算不足": ("預算不足", "没有预算", "预算不足　"),
    "输给竞品": ("輸給競品", "竞品中标", "输给竞品 "),
    "无决策权": ("無決策權", "不是决策人"),
    "联系不上": ("聯繫不上", "电话打不通"),
    "无效线索": ("無效線索",),
    "重复线索": ("重複線索",),
}
# Texts no seed reason or alias covers: they are `other` and listed for the seed's editors.
UNMATCHED: tuple[str, ...] = ("客户内部架构调整", "项目暂停")
SPELLINGS: tuple[str, ...] = V.REASONS + tuple(v for r in V.REASONS for v in VARIANTS[r]) + UNMATCHED
# each spelling's seed reason (None: unmatched)
BASE_OF: dict[str, str | None] = {**{r: r for r in V.REASONS}, **{v: r for r in V.REASONS for v in VARIANTS[r]},
                                  **dict.fromkeys(UNMATCHED)}
_VARIANT_CODES = []
_next = len(V.REASONS)
for _r in V.REASONS:
    _VARIANT_CODES.append(np.arange(_next, _next + len(VARIANTS[_r])))
    _next += len(VARIANTS[_r])
_UNMATCHED_CODES = np.arange(_next, _next + len(UNMATCHED))
VARIANT_SHARE, UNMATCHED_SHARE = 0.15, 0.01

# Planted P(the rep recontacts a lost deal's account inside the follow-up window), by department number; the rest
# recontact late (half) or never. Departments not listed: DEFAULT_ON_TIME.
ON_TIME: dict[int, float] = {110: 0.85, 120: 0.45, 210: 0.75, 220: 0.3, 310: 0.6, 320: 0.55, 410: 0.4}
DEFAULT_ON_TIME = 0.5
LATE_SHARE = 0.5  # of the reps who are not on time, how many recontact after the grace period


def followup_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, 15])


def spell(rng: np.random.Generator, codes: np.ndarray) -> Cat:
    """Reason codes (into V.REASONS, -1 = none) as texts of SPELLINGS: most as in the seed, some varied."""
    out = np.asarray(codes, np.int64).copy()
    u = rng.random(len(out))
    pick = rng.random(len(out))
    has = out >= 0
    varied = has & (u < VARIANT_SHARE)
    for r, vcodes in enumerate(_VARIANT_CODES):
        rows = varied & (out == r)
        out[rows] = vcodes[(pick[rows] * len(vcodes)).astype(np.int64)]
    other = has & (u >= VARIANT_SHARE) & (u < VARIANT_SHARE + UNMATCHED_SHARE)
    out[other] = _UNMATCHED_CODES[(pick[other] * len(_UNMATCHED_CODES)).astype(np.int64)]
    return Cat(out, SPELLINGS)


@dataclass
class FollowupTruth:
    """Planted recontacts, counted per entity (lost deal, disqualified lead) and department number: on time, late,
    none."""

    counts: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)

    def add(self, entity: str, kind: str, dept_num: np.ndarray) -> None:
        per = self.counts.setdefault(entity, {})
        for d, k in zip(*np.unique(dept_num, return_counts=True), strict=True):
            cell = per.setdefault(int(d), {"on_time": 0, "late": 0, "none": 0})
            cell[kind] += int(k)

    def as_json(self) -> dict:
        depts = sorted({d for per in self.counts.values() for d in per})
        return {
            "on_time_planted": {str(d): ON_TIME.get(d, DEFAULT_ON_TIME) for d in depts},
            "planted_recontacts": {e: {str(d): per[d] for d in sorted(per)} for e, per in sorted(self.counts.items())},
            "recontact_by": {"opportunity": "a call on the account by the deal's owner",
                             "lead": "a marketing touch (email_open or webinar_attend) on the lead"},
            "variant_spellings": {r: list(VARIANTS[r]) for r in V.REASONS},
            "unmatched_spellings": list(UNMATCHED),
        }


def _plan(rng: np.random.Generator, due: np.ndarray, dnum: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(on time, late, recontact instant) per follow-up, with the department's planted probability."""
    p = np.array([ON_TIME.get(int(d), DEFAULT_ON_TIME) for d in dnum]) if len(dnum) else np.zeros(0)
    on_time = rng.random(len(due)) < p
    late = ~on_time & (rng.random(len(due)) < LATE_SHARE)
    offset_day = np.where(on_time, rng.integers(-EARLY_DAYS + 1, GRACE_DAYS, len(due)),
                          rng.integers(GRACE_DAYS + 2, GRACE_DAYS + 60, len(due)))
    at = (due // DAY + offset_day) * DAY + office_seconds(rng, len(due))
    return on_time, late, at


def _count(truth: FollowupTruth, entity: str, dnum: np.ndarray, due: np.ndarray, on_time: np.ndarray,
           late: np.ndarray, written: np.ndarray) -> None:
    keep = np.isin(dnum, list(ON_TIME)) & (due + GRACE_DAYS * DAY <= WINDOW_END)  # its window closed in the data
    truth.add(entity, "on_time", dnum[keep & on_time & written])
    truth.add(entity, "late", dnum[keep & late & written])
    truth.add(entity, "none", dnum[keep & ~((on_time | late) & written)])


def plant_recontacts(rng: np.random.Generator, staff: Staff, closed_at: np.ndarray, won: np.ndarray,
                     reason: np.ndarray, owner: np.ndarray, account: np.ndarray, truth: FollowupTruth) -> ActivityLog:
    """A call on the lost deal's account by its owner: inside [due − early, due + grace] with the department's
    planted probability, else after the grace period (LATE_SHARE) or never. Only owners still employed then, and
    only inside the window, so every planted row is written."""
    days = np.array([RECONTACT_DAYS[r] or -1 for r in V.REASONS])
    lost = np.flatnonzero((closed_at >= 0) & ~won & (reason >= 0))
    lost = lost[days[reason[lost]] > 0]
    due = closed_at[lost] + days[reason[lost]] * DAY
    dnum = staff_dept_num(staff)[owner[lost]]
    on_time, late, at = _plan(rng, due, dnum)
    acts = ActivityLog()
    can = (on_time | late) & (at <= WINDOW_END) & staff.active(owner[lost], at)
    acts.add(at[can], owner[lost][can], np.full(int(can.sum()), ACT["call"]), account=account[lost][can])
    _count(truth, "opportunity", dnum, due, on_time, late, can)
    return acts


def plant_lead_touches(rng: np.random.Generator, staff: Staff, events: tuple[np.ndarray, ...], disq_reason: np.ndarray,
                       lead_num: np.ndarray, truth: FollowupTruth) -> tuple[Frame, np.ndarray]:
    """Marketing recontacts of disqualified leads (the seeds' 培育: nurture, then ask again): an email opened or a
    webinar attended, on the lead, timed like the deals' calls by the department of the rep who disqualified it.
    Returns the touch rows (lead_id set, no other identifier) and the local lead of each."""
    from .touches import ID_COLS, TYPE_CHANNEL

    e_lead, e_at, e_type, e_user = events[0], events[1], events[2], events[3]
    dq = np.flatnonzero(e_type == V.LEAD_EVENT_TYPES.index("disqualified"))
    last = {}
    for i in dq[np.argsort(e_at[dq], kind="stable")]:
        last[int(e_lead[i])] = i  # a lead disqualified twice keeps its latest
    rows = np.array(sorted(last.values()), np.int64)
    lead = e_lead[rows] if len(rows) else np.zeros(0, np.int64)
    days = np.array([RECONTACT_DAYS[r] or -1 for r in V.REASONS])
    reason = disq_reason[lead] if len(lead) else np.zeros(0, np.int64)
    ok = (reason >= 0) & (e_user[rows] >= 0)
    ok[ok] = days[reason[ok]] > 0
    rows, lead, reason = rows[ok], lead[ok], reason[ok]
    due = e_at[rows] + days[reason] * DAY
    dnum = staff_dept_num(staff)[e_user[rows]]
    on_time, late, at = _plan(rng, due, dnum)
    write = (on_time | late) & (at <= WINDOW_END)
    ttype = np.where(rng.random(len(lead)) < 0.6, V.TOUCH_TYPES.index("email_open"),
                     V.TOUCH_TYPES.index("webinar_attend"))[write]
    n = int(write.sum())
    channels = tuple(V.CHANNELS)
    frame: Frame = {
        "touch_id": np.zeros(n, np.int64), "touched_at": at[write],
        "channel": Cat(np.array([V.CH[TYPE_CHANNEL[V.TOUCH_TYPES[x]]] for x in ttype], np.int64), channels),
        "touch_type": Cat(ttype.astype(np.int64), V.TOUCH_TYPES),
        "campaign_id": np.full(n, -1, np.int64), "content_id": np.full(n, -1, np.int64)}
    for col in ID_COLS:
        frame[col] = pa.nulls(n, pa.string())
    frame["lead_id"] = lead_num[lead[write]]
    _count(truth, "lead", dnum, due, on_time, late, write)
    return frame, lead[write]


def staff_dept_num(staff: Staff) -> np.ndarray:
    from .company import DEPT_NUM

    return DEPT_NUM[staff.dept]
