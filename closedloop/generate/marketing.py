"""Campaigns, contents and campaign spend (the spend is planted to give an exact cost per lead)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text
from . import vocab as V
from .company import DEPT_INDEX, DEPT_NUM, MARKETING
from .schema import Cat, Frame
from .timeutil import DAY, END_DAY, NA, START_DAY, day_weights, office_seconds, sample_days

# Campaigns per channel at scale 1, run length in days, and how long leads keep arriving after the end.
CAMPAIGN_PLAN: dict[str, tuple[int, tuple[int, int], int]] = {
    "官网": (6, (60, 180), 0), "SEM": (12, (30, 120), 0), "微信公众号": (8, (14, 60), 3),
    "直播": (10, (10, 25), 5), "内容下载": (8, (30, 90), 0), "展会": (6, (2, 4), 21), "合作伙伴": (4, (90, 240), 0),
}
# Planted cost per lead in CNY cents (exact by construction, see campaign_tables).
CPL_CENTS: dict[str, int] = {"官网": 6_000, "SEM": 18_000, "微信公众号": 9_000, "直播": 15_000, "内容下载": 12_000,
                             "展会": 45_000, "合作伙伴": 30_000}
# Contents per campaign: (min, max, content types to draw from).
CONTENT_PLAN: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "官网": (1, 2, ("article", "video", "case_study")), "SEM": (0, 0, ()), "微信公众号": (2, 4, ("article",)),
    "直播": (1, 2, ("webinar", "video")), "内容下载": (1, 3, ("whitepaper", "case_study")),
    "展会": (0, 1, ("case_study",)), "合作伙伴": (0, 1, ("whitepaper",)),
}
_TYPE_OF_CHANNEL = np.array([list(V.CAMPAIGN_TYPES).index(c) if c in V.CAMPAIGN_TYPES else -1 for c in V.CHANNELS])
REGION_DEPTS = np.array([DEPT_INDEX[n] for n in (100, 200, 300, 400)])


@dataclass
class Campaigns:
    channel: np.ndarray  # index into V.CHANNELS
    start_day: np.ndarray
    end_day: np.ndarray
    attr_end_day: np.ndarray  # leads still arrive until here (show follow-ups, replays)
    weight: np.ndarray  # relative lead volume
    dept: np.ndarray
    theme: np.ndarray  # index into the channel's theme list
    by_channel: dict[int, np.ndarray]  # channel -> campaign indexes

    @property
    def n(self) -> int:
        return len(self.channel)


@dataclass
class Contents:
    campaign: np.ndarray  # -1 = not tied to a campaign
    ctype: np.ndarray  # index into V.CONTENT_TYPES
    topic: np.ndarray
    published: np.ndarray  # seconds
    quoted: np.ndarray  # title written with ASCII quotes (exercises CSV quoting)

    @property
    def n(self) -> int:
        return len(self.campaign)


def build_campaigns(rng: np.random.Generator, scale: float) -> Campaigns:
    weights = day_weights(0.5)
    parts = []
    for ch_name, (k, (lo, hi), tail) in CAMPAIGN_PLAN.items():
        n = max(1, round(k * scale))
        dur = rng.integers(lo, hi + 1, size=n)
        start = sample_days(rng, n, weights)
        end = np.minimum(start + dur - 1, END_DAY)
        start = np.maximum(start, START_DAY)
        attr_end = np.minimum(end + tail, END_DAY)
        w = rng.lognormal(0.0, 0.5, size=n) * (attr_end - start + 1) ** 0.6
        dept = np.full(n, MARKETING)
        if ch_name in ("展会", "合作伙伴"):
            regional = rng.random(n) < 0.5
            dept[regional] = REGION_DEPTS[rng.integers(0, 4, size=int(regional.sum()))]
        theme = rng.integers(0, len(V.CAMPAIGN_THEMES[ch_name]), size=n)
        parts.append((np.full(n, V.CH[ch_name]), start, end, attr_end, w, dept, theme))
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    # Campaign ids in launch order, as a marketing tool would number them.
    order = np.lexsort((cols[0], cols[1]))
    cols = [c[order] for c in cols]
    by_channel = {int(c): np.flatnonzero(cols[0] == c) for c in np.unique(cols[0])}
    return Campaigns(*cols, by_channel=by_channel)


def assign_campaigns(rng: np.random.Generator, camps: Campaigns, channel: np.ndarray,
                     attributed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Campaign and creation day for campaign leads: pick the campaign first, then a day in its lead period."""
    n = len(channel)
    campaign = np.full(n, -1, dtype=np.int64)
    day = np.full(n, -1, dtype=np.int64)
    for ch, idx in camps.by_channel.items():
        rows = np.flatnonzero((channel == ch) & attributed)
        if len(rows) == 0:
            continue
        p = camps.weight[idx] / camps.weight[idx].sum()
        c = idx[rng.choice(len(idx), size=len(rows), p=p)]
        campaign[rows] = c
        span = camps.attr_end_day[c] - camps.start_day[c] + 1
        d = camps.start_day[c] + (rng.random(len(rows)) * span).astype(np.int64)
        if V.CHANNELS[ch] == "展会":
            # Most show leads are scanned at the booth, the rest trickle in from follow-ups.
            run = camps.end_day[c] - camps.start_day[c] + 1
            booth = rng.random(len(rows)) < 0.65
            d = np.where(booth, camps.start_day[c] + (rng.random(len(rows)) * run).astype(np.int64), d)
        day[rows] = np.minimum(d, END_DAY)
    return campaign, day


def build_contents(rng: np.random.Generator, camps: Campaigns, scale: float) -> Contents:
    camp_list, type_list = [], []
    for ch_name, (lo, hi, types) in CONTENT_PLAN.items():
        if hi == 0:
            continue
        idx = camps.by_channel.get(V.CH[ch_name], np.zeros(0, dtype=np.int64))
        k = rng.integers(lo, hi + 1, size=len(idx))
        c = np.repeat(idx, k)
        camp_list.append(c)
        type_list.append(np.array([V.CONTENT_TYPES.index(t) for t in types])[rng.integers(0, len(types), len(c))])
    campaign = np.concatenate(camp_list) if camp_list else np.zeros(0, dtype=np.int64)
    ctype = np.concatenate(type_list) if type_list else np.zeros(0, dtype=np.int64)
    n_free = max(3, round(25 * scale))
    campaign = np.concatenate([campaign, np.full(n_free, -1)])
    ctype = np.concatenate([ctype, rng.integers(0, len(V.CONTENT_TYPES), size=n_free)])
    n = len(campaign)
    pub_day = np.where(campaign >= 0, camps.start_day[np.maximum(campaign, 0)] + rng.integers(0, 4, size=n),
                       START_DAY + rng.integers(0, END_DAY - START_DAY - 30, size=n))
    published = np.minimum(pub_day, END_DAY) * DAY + office_seconds(rng, n)
    order = np.argsort(published, kind="stable")
    return Contents(campaign[order], ctype[order], rng.integers(0, len(V.CONTENT_TOPICS), size=n),
                    published[order], rng.random(n) < 0.08)


def contents_frame(c: Contents) -> Frame:
    year = text.take(tuple(str(y) for y in range(2024, 2028)),
                     c.published.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970 - 2024)
    topic = text.take(V.CONTENT_TOPICS, c.topic)
    label = text.take(tuple(V.CONTENT_TYPE_LABELS[t] for t in V.CONTENT_TYPES), c.ctype)
    plain = text.join(year, topic, label)
    quoted = text.join('"', topic, '"', label)
    return {
        "content_id": np.arange(1, c.n + 1),
        "title": pc.if_else(pa.array(c.quoted), quoted, plain),
        "content_type": Cat(c.ctype, V.CONTENT_TYPES),
        "campaign_id": np.where(c.campaign >= 0, c.campaign + 1, NA),
        "published_at": c.published,
    }


def _exact_split(total: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Split integer totals over rows of each group in proportion to weights, summing exactly.

    Rounds the cumulative share, so every group's parts add up to its total to the cent.
    ``group`` must be sorted and index ``total``.
    """
    csum = np.cumsum(weights)
    starts = np.searchsorted(group, group, side="left")
    base = np.where(starts > 0, csum[starts - 1], 0.0)
    ends = np.searchsorted(group, group, side="right") - 1
    share = (csum - base) / (csum[ends] - base)
    cum = np.rint(total[group] * share).astype(np.int64)
    prev = np.where(np.arange(len(group)) == starts, 0, np.concatenate([[0], cum[:-1]]))
    return cum - prev


def spend_totals(rng: np.random.Generator, camps: Campaigns,
                 leads_per_campaign: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Spend per campaign (cents) so that channel spend / channel leads is exactly the planted CPL."""
    spend = np.zeros(camps.n, dtype=np.int64)
    cpl: dict[str, float] = {}
    for ch, idx in camps.by_channel.items():
        name = V.CHANNELS[ch]
        n_leads = int(leads_per_campaign[idx].sum())
        total = CPL_CENTS[name] * n_leads
        # Campaigns without leads still cost something: spend follows leads only roughly.
        w = (leads_per_campaign[idx] + 0.5) * rng.lognormal(0.0, 0.25, size=len(idx))
        spend[idx] = _exact_split(np.array([total]), w, np.zeros(len(idx), dtype=np.int64))
        if n_leads:
            cpl[name] = total / 100 / n_leads
    return spend, cpl


def campaigns_frame(rng: np.random.Generator, camps: Campaigns, spend: np.ndarray) -> Frame:
    month = camps.start_day.astype("datetime64[D]").astype("datetime64[M]")
    labels = np.datetime_as_string(np.arange(np.datetime64("2024-01"), np.datetime64("2027-01")))
    ym = text.take(tuple(s.replace("-", "年") + "月" for s in labels),
                   (month - np.datetime64("2024-01")).astype(np.int64))
    themes = tuple(f"{V.CHANNELS[ch]}-{t}" for ch in range(len(V.CHANNELS))
                   for t in V.CAMPAIGN_THEMES.get(V.CHANNELS[ch], ("",)))
    theme_start = np.cumsum([0] + [len(V.CAMPAIGN_THEMES.get(c, ("",))) for c in V.CHANNELS])
    budget = (np.round(spend * rng.uniform(0.9, 1.3, size=camps.n) / 100_000) * 100_000).astype(np.int64)
    return {
        "campaign_id": np.arange(1, camps.n + 1),
        "campaign_name": text.join(ym, text.take(themes, theme_start[camps.channel] + camps.theme), sep=" "),
        "channel": Cat(camps.channel, V.CHANNELS),
        "campaign_type": Cat(_TYPE_OF_CHANNEL[camps.channel], tuple(V.CAMPAIGN_TYPES.values())),
        "start_date": camps.start_day,
        "end_date": camps.end_day,
        "budget": np.maximum(budget, 100_000),
        "department_id": DEPT_NUM[camps.dept],
    }


# Media economics per channel: (spend per impression range in cents, click-through range); None = no media stats.
MEDIA: dict[str, tuple[tuple[float, float], tuple[float, float]] | None] = {
    "SEM": ((8, 30), (0.015, 0.05)), "官网": ((2, 6), (0.02, 0.06)), "微信公众号": ((20, 80), (0.02, 0.06)),
    "直播": ((200, 600), (0.05, 0.15)), "内容下载": ((50, 200), (0.01, 0.04)), "展会": None, "合作伙伴": None,
}


def spend_frames(rng: np.random.Generator, camps: Campaigns, spend: np.ndarray,
                 block: int = 5_000) -> Iterator[Frame]:
    """One row per campaign and running day, in blocks of campaigns to bound memory."""
    for lo in range(0, camps.n, block):
        idx = np.arange(lo, min(lo + block, camps.n))
        days = camps.end_day[idx] - camps.start_day[idx] + 1
        camp = np.repeat(idx, days)
        first = np.repeat(np.cumsum(days) - days, days)
        day = camps.start_day[camp] + (np.arange(len(camp)) - first)
        weekday = (day + 3) % 7
        w = rng.gamma(6.0, 1.0, size=len(camp)) * np.where(weekday >= 5, 0.5, 1.0)
        cents = _exact_split(spend, w, camp)
        impressions = np.full(len(camp), NA, dtype=np.int64)
        clicks = np.full(len(camp), NA, dtype=np.int64)
        for ch_name, media in MEDIA.items():
            if media is None:
                continue
            rows = np.flatnonzero(camps.channel[camp] == V.CH[ch_name])
            if len(rows) == 0:
                continue
            (c_lo, c_hi), (r_lo, r_hi) = media
            per_camp_cost = rng.uniform(c_lo, c_hi, size=camps.n)[camp[rows]]
            per_camp_ctr = rng.uniform(r_lo, r_hi, size=camps.n)[camp[rows]]
            imp = np.rint(cents[rows] / per_camp_cost * rng.uniform(0.85, 1.15, size=len(rows))).astype(np.int64)
            impressions[rows] = imp
            clicks[rows] = rng.binomial(imp, per_camp_ctr)
        yield {"campaign_id": camp + 1, "spend_date": day, "spend": cents, "impressions": impressions,
               "clicks": clicks}
