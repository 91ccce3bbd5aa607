"""The company: regions, teams, people, and who is available to take work at an instant."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import text
from . import vocab as V
from .schema import Cat, Frame
from .timeutil import DAY, HOUR, NA, WINDOW_END, to_sec

# (department number, name, parent number, region)
DEPARTMENTS: tuple[tuple[int, str, int | None, str | None], ...] = (
    (100, "华东区", None, "华东"), (110, "华东一部", 100, "华东"), (120, "华东二部", 100, "华东"),
    (200, "华南区", None, "华南"), (210, "华南一部", 200, "华南"), (220, "华南二部", 200, "华南"),
    (300, "华北区", None, "华北"), (310, "华北一部", 300, "华北"), (320, "华北二部", 300, "华北"),
    (400, "西部区", None, "西部"), (410, "西部一部", 400, "西部"),
    (500, "市场部", None, None), (600, "客户成功部", None, None),
)
DEPT_NUM = np.array([d[0] for d in DEPARTMENTS])
DEPT_INDEX = {d[0]: i for i, d in enumerate(DEPARTMENTS)}
SALES_TEAMS = np.array([DEPT_INDEX[n] for n in (110, 120, 210, 220, 310, 320, 410)])
MARKETING = DEPT_INDEX[500]
CUSTOMER_SUCCESS = DEPT_INDEX[600]
# Sales teams of each region (index into V.REGIONS) and how the region's leads split.
REGION_TEAMS = {0: ([DEPT_INDEX[110], DEPT_INDEX[120]], [0.55, 0.45]),
                1: ([DEPT_INDEX[210], DEPT_INDEX[220]], [0.5, 0.5]),
                2: ([DEPT_INDEX[310], DEPT_INDEX[320]], [0.5, 0.5]),
                3: ([DEPT_INDEX[410]], [1.0])}
REGION_SHARE = np.array([0.36, 0.26, 0.24, 0.14])
# Region (index into V.REGIONS) of each department; -1 for departments outside sales.
TEAM_REGION = np.array([V.REGIONS.index(d[3]) if d[3] else -1 for d in DEPARTMENTS])
# Frontline head-count per team at scale 1: (sales, sdr, presales); 华东一部 is the big team.
TEAM_SIZE = {DEPT_INDEX[110]: (7, 3, 2)}
DEFAULT_TEAM_SIZE = (5, 2, 1)
ATTRITION = 0.18
ROLE = {r: i for i, r in enumerate(V.ROLES)}
NEVER = np.iinfo(np.int64).max // 4


@dataclass
class Staff:
    """All users as parallel arrays, plus cached pools for picking an active user."""

    dept: np.ndarray  # department index
    role: np.ndarray  # index into V.ROLES
    manager: np.ndarray  # user index or -1
    hired_day: np.ndarray
    left_day: np.ndarray  # -1 = still employed
    sur: np.ndarray
    giv: np.ndarray
    dept_manager: np.ndarray  # per department: user index of its manager
    _pools: dict[tuple[tuple[str, ...], int], np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.dept)

    @property
    def active_from(self) -> np.ndarray:
        return self.hired_day * DAY + 9 * HOUR

    @property
    def active_to(self) -> np.ndarray:
        """Last instant the user can act: 18:00 on the day they left."""
        return np.where(self.left_day >= 0, self.left_day * DAY + 18 * HOUR, NEVER)

    def pool(self, roles: tuple[str, ...], dept: int) -> np.ndarray:
        key = (roles, dept)
        if key not in self._pools:
            codes = [ROLE[r] for r in roles]
            self._pools[key] = np.flatnonzero((self.dept == dept) & np.isin(self.role, codes))
        return self._pools[key]

    def pick(self, rng: np.random.Generator, dept: np.ndarray, t: np.ndarray, roles: tuple[str, ...],
             exclude: np.ndarray | None = None) -> np.ndarray:
        """A random user of ``roles`` in each row's department who is employed at ``t``.

        Rejection sampling keeps it vectorised; the team manager (never leaves) is the
        fallback when nobody else qualifies.
        """
        dept = np.asarray(dept)
        t = np.asarray(t)
        out = np.full(len(dept), -1, dtype=np.int64)
        a_from, a_to = self.active_from, self.active_to
        for d in np.unique(dept):
            rows = np.flatnonzero(dept == d)
            pool = self.pool(roles, int(d))
            if len(pool) == 0:
                out[rows] = self.dept_manager[d]
                continue
            todo = rows
            for _ in range(25):
                cand = pool[rng.integers(0, len(pool), size=len(todo))]
                ok = (a_from[cand] <= t[todo]) & (t[todo] < a_to[cand])
                if exclude is not None:
                    ok &= cand != exclude[todo]
                out[todo[ok]] = cand[ok]
                todo = todo[~ok]
                if len(todo) == 0:
                    break
            out[todo] = self.dept_manager[d]
        return out

    def active(self, user: np.ndarray, t: np.ndarray) -> np.ndarray:
        user = np.asarray(user)
        return (self.active_from[user] <= t) & (t <= self.active_to[user])

    def frame(self) -> Frame:
        return {
            "user_id": np.arange(1, self.n + 1),
            "user_name": text.person_names(self.sur, self.giv),
            "department_id": DEPT_NUM[self.dept],
            "role": Cat(self.role, V.ROLES),
            "manager_user_id": np.where(self.manager >= 0, self.manager + 1, NA),
            # hired_at / left_at as instants: the first and last moment the user can act in the CRM
            "hired_at": self.active_from,
            "left_at": np.where(self.left_day >= 0, self.active_to, NA),
        }


def departments_frame() -> Frame:
    return {
        "department_id": DEPT_NUM.copy(),
        "department_name": text.arr(tuple(d[1] for d in DEPARTMENTS)),
        "parent_department_id": np.array([d[2] if d[2] is not None else NA for d in DEPARTMENTS]),
        "region": text.take(V.REGIONS, np.array([V.REGIONS.index(d[3]) if d[3] else -1 for d in DEPARTMENTS])),
    }


def _day(iso: str) -> int:
    return to_sec(iso + "T00:00:00") // DAY


def build_staff(rng: np.random.Generator, scale: float) -> Staff:
    """Head-count grows linearly with scale so leads per rep stay believable at any size."""
    dept: list[int] = []
    role: list[int] = []
    manager: list[int] = []
    hired: list[int] = []
    dept_manager = np.full(len(DEPARTMENTS), -1, dtype=np.int64)

    def add(d: int, r: str, mgr: int, hired_day: int) -> int:
        dept.append(d)
        role.append(ROLE[r])
        manager.append(mgr)
        hired.append(hired_day)
        return len(dept) - 1

    def hire_day(lo: str, hi: str) -> int:
        return int(rng.integers(_day(lo), _day(hi)))

    def n_of(base: int, minimum: int) -> int:
        return max(minimum, round(base * scale))

    for i, (num, _name, parent, _region) in enumerate(DEPARTMENTS):
        if parent is None and num < 500:  # region head
            dept_manager[i] = add(i, "manager", -1, hire_day("2012-01-01", "2018-01-01"))
    for i, (_num, _name, parent, _region) in enumerate(DEPARTMENTS):
        if parent is None:
            continue
        head = int(dept_manager[DEPT_INDEX[parent]])
        dept_manager[i] = add(i, "manager", head, hire_day("2014-01-01", "2021-01-01"))
        sales, sdr, presales = TEAM_SIZE.get(i, DEFAULT_TEAM_SIZE)
        for r, k, m in (("sales", sales, 2), ("sdr", sdr, 1), ("presales", presales, 1)):
            for _ in range(n_of(k, m)):
                add(i, r, int(dept_manager[i]), hire_day("2016-03-01", "2024-09-30"))
    for d, r, k in ((MARKETING, "marketing", 5), (CUSTOMER_SUCCESS, "cs", 6)):
        dept_manager[d] = add(d, "manager", -1, hire_day("2014-01-01", "2020-01-01"))
        for _ in range(n_of(k, 2)):
            add(d, r, int(dept_manager[d]), hire_day("2017-01-01", "2024-09-30"))

    n0 = len(dept)
    left = np.full(n0, -1, dtype=np.int64)
    # Attrition: some reps leave during the window and a replacement joins the same team.
    is_rep = np.array(role) != ROLE["manager"]
    leaves = is_rep & (rng.random(n0) < ATTRITION)
    left[leaves] = rng.integers(_day("2025-01-15"), _day("2026-09-30"), size=int(leaves.sum()))
    for u in np.flatnonzero(leaves):
        start = int(left[u] + rng.integers(7, 45))
        if start <= WINDOW_END // DAY - 14:
            add(dept[u], V.ROLES[role[u]], manager[u], start)
    left = np.concatenate([left, np.full(len(dept) - n0, -1, dtype=np.int64)])
    n = len(dept)
    sur, giv = text.person_codes(rng, n)
    return Staff(np.array(dept), np.array(role), np.array(manager), np.array(hired, dtype=np.int64), left,
                 sur, giv, dept_manager)


def region_team(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Sales team that serves each row's region."""
    out = np.empty(len(region), dtype=np.int64)
    for r, (teams, share) in REGION_TEAMS.items():
        rows = np.flatnonzero(region == r)
        out[rows] = np.asarray(teams)[rng.choice(len(teams), size=len(rows), p=share)]
    return out
