"""Marketing touches: one person seen under cookies, devices, WeChat ids, e-mail and phone.

Identifiers are chosen per touch type the way real systems capture them (a page view
knows only the cookie and device, an e-mail open only the address, a WeChat follow only
the openid/unionid, a form fill ties cookie, e-mail and phone together), so the touches
of one person overlap pairwise and identity resolution can stitch them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import text
from . import vocab as V
from .leads import LeadBase
from .marketing import Campaigns, Contents
from .schema import Cat, Frame
from .timeutil import DAY, WINDOW_END, WINDOW_START, day_weights, office_seconds, sample_days

TT = {t: i for i, t in enumerate(V.TOUCH_TYPES)}
PRE_RATE = {"外呼": 0.3, "转介绍": 0.4, "展会": 0.8}  # default 1.6 touches before the lead exists
POST_RATE = 1.3
PRE_TYPES = (("page_view", .45), ("ad_click", .2), ("email_open", .1), ("wechat_follow", .1), ("download", .1),
             ("webinar_attend", .05))
POST_TYPES = (("email_open", .35), ("page_view", .3), ("webinar_attend", .1), ("download", .1),
              ("wechat_follow", .05), ("event_checkin", .05), ("form_submit", .05))
# The touch that creates the lead, by lead channel (None: the lead is not born from a touch).
BIRTH = {"官网": "form_submit", "SEM": "form_submit", "微信公众号": "form_submit", "直播": "form_submit",
         "内容下载": "download", "展会": "event_checkin", "合作伙伴": "form_submit", "外呼": None, "转介绍": None}
# Channel a touch type is counted under when it is not the lead's own channel.
TYPE_CHANNEL = {"page_view": "官网", "ad_click": "SEM", "download": "内容下载", "webinar_attend": "直播",
                "wechat_follow": "微信公众号", "event_checkin": "展会", "email_open": "官网", "form_submit": "官网"}
# Identifier columns captured by each touch type.
CAPTURE = {
    "page_view": ("anonymous_id", "device_id"), "ad_click": ("anonymous_id", "device_id"),
    "form_submit": ("anonymous_id", "device_id", "email", "phone"), "download": ("anonymous_id", "email"),
    "webinar_attend": ("phone", "wechat_openid", "wechat_unionid"), "email_open": ("email",),
    "wechat_follow": ("wechat_openid", "wechat_unionid"), "event_checkin": ("phone", "wechat_unionid"),
}
ID_COLS = ("anonymous_id", "device_id", "wechat_openid", "wechat_unionid", "email", "phone")


def _draw(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    names = np.array([TT[t] for t, _ in table])
    p = np.array([w for _, w in table])
    return names[rng.choice(len(names), size=n, p=p / p.sum())]


def _campaign_at(rng: np.random.Generator, camps: Campaigns, channel: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A campaign of the touch's channel running that day, if any (rejection sampling)."""
    out = np.full(len(channel), -1, np.int64)
    for ch, idx in camps.by_channel.items():
        rows = np.flatnonzero(channel == ch)
        todo = rows
        for _ in range(6):
            if len(todo) == 0:
                break
            c = idx[rng.integers(0, len(idx), len(todo))]
            ok = (camps.start_day[c] <= day[todo]) & (day[todo] <= camps.attr_end_day[c])
            out[todo[ok]] = c[ok]
            todo = todo[~ok]
    return out


def _content_for(rng: np.random.Generator, contents: Contents, n_campaigns: int, ttype: np.ndarray,
                 campaign: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The campaign's own content when it has one, otherwise any content already published."""
    out = np.full(len(t), -1, np.int64)
    if contents.n == 0:
        return out
    first_of_campaign = np.full(n_campaigns, -1, np.int64)
    has = np.flatnonzero(contents.campaign >= 0)
    camp_ids, first = np.unique(contents.campaign[has], return_index=True)
    first_of_campaign[camp_ids] = has[first]
    wants = np.isin(ttype, (TT["download"], TT["webinar_attend"])) | (
        (ttype == TT["page_view"]) & (rng.random(len(t)) < 0.3))
    own = np.where(campaign >= 0, first_of_campaign[np.maximum(campaign, 0)], -1)
    own = np.where((own >= 0) & (contents.published[np.maximum(own, 0)] <= t), own, -1)
    n_before = np.searchsorted(contents.published, t, side="right")  # contents are sorted by published
    anyc = np.where(n_before > 0, (rng.random(len(t)) * n_before).astype(np.int64), -1)
    return np.where(wants, np.where(own >= 0, own, anyc), -1)


def build_touches(rng: np.random.Generator, base: LeadBase, camps: Campaigns, contents: Contents,
                  lead_num: np.ndarray) -> Frame:
    n = base.n
    ch_names = np.array(V.CHANNELS)
    pre_rate = np.array([PRE_RATE.get(c, 1.6) for c in V.CHANNELS])[base.channel]
    k_pre = np.minimum(rng.poisson(pre_rate), 8)
    k_post = np.minimum(rng.poisson(POST_RATE, n), 8)
    birth_type = np.array([TT[BIRTH[c]] if BIRTH[c] else -1 for c in V.CHANNELS])[base.channel]

    # pre-lead journey
    p_lead = np.repeat(np.arange(n), k_pre)
    p_type = _draw(rng, PRE_TYPES, len(p_lead))
    p_t = base.created[p_lead] - (rng.exponential(8.0, len(p_lead)) * DAY).astype(np.int64) - 60
    # the lead-creating touch
    b_lead = np.flatnonzero(birth_type >= 0)
    b_type = birth_type[b_lead]
    b_t = base.created[b_lead]
    # after the lead exists
    q_lead = np.repeat(np.arange(n), k_post)
    q_type = _draw(rng, POST_TYPES, len(q_lead))
    q_t = base.created[q_lead] + (rng.exponential(20.0, len(q_lead)) * DAY).astype(np.int64) + 60

    lead = np.concatenate([p_lead, b_lead, q_lead])
    ttype = np.concatenate([p_type, b_type, q_type])
    t = np.concatenate([p_t, b_t, q_t])
    phase = np.concatenate([np.zeros(len(p_lead)), np.ones(len(b_lead)), np.full(len(q_lead), 2)]).astype(np.int8)
    keep = (t >= WINDOW_START) & (t <= WINDOW_END)
    lead, ttype, t, phase = lead[keep], ttype[keep], t[keep], phase[keep]
    # people without WeChat cannot follow the account: they browse instead
    no_wx = ~base.wechat[lead] & (ttype == TT["wechat_follow"])
    ttype[no_wx] = TT["page_view"]
    m = len(lead)

    lead_ch = base.channel[lead]
    type_ch = np.array([V.CH[TYPE_CHANNEL[x]] for x in V.TOUCH_TYPES])[ttype]
    own_channel = (phase == 1) | ((ttype == TT["page_view"]) & np.isin(lead_ch, (V.CH["官网"], V.CH["SEM"])))
    own_channel |= (ttype == TT["email_open"]) & (base.campaign[lead] >= 0)
    channel = np.where(own_channel, lead_ch, type_ch)
    campaign = np.where(channel == lead_ch, base.campaign[lead], -1)
    fill = campaign < 0
    campaign[fill] = _campaign_at(rng, camps, channel[fill], t[fill] // DAY)
    # a form fill always names the lead; later touches only when the cookie was already matched
    with_lead = (phase == 1) | ((phase == 2) & ((rng.random(m) < 0.5) | (ttype == TT["form_submit"])))

    # identifiers of the person behind each lead
    cookies = text.tokens(rng, n * 3, 16, text.HEX, "ck")
    devices = text.tokens(rng, n * 2, 20, text.HEX.upper(), "DV")
    n_cookie = rng.choice([1, 2, 3], size=n, p=[.6, .3, .1])
    n_device = rng.choice([1, 2], size=n, p=[.75, .25])
    idv = {
        "anonymous_id": cookies.take(pa.array(lead * 3 + (rng.random(m) * n_cookie[lead]).astype(np.int64))),
        "device_id": devices.take(pa.array(lead * 2 + (rng.random(m) * n_device[lead]).astype(np.int64))),
        "wechat_openid": base.openid.take(pa.array(lead)),
        "wechat_unionid": base.unionid.take(pa.array(lead)),
        "email": text.noisy_emails(rng, base.email.take(pa.array(lead))),
        "phone": text.noisy_phones(rng, base.phone.take(pa.array(lead))),
    }
    has_wx = base.wechat[lead]
    wx_form = (ttype == TT["form_submit"]) & (channel == V.CH["微信公众号"])
    for col in ID_COLS:
        captured = np.isin(ttype, [TT[x] for x in V.TOUCH_TYPES if col in CAPTURE[x]])
        if col == "wechat_openid":
            captured |= wx_form
        if col.startswith("wechat"):
            captured &= has_wx
        idv[col] = text.null_where(idv[col], ~captured)

    # anonymous visitors who never become leads: cookie and device only
    n_vis = round(n * 0.6)
    k_vis = rng.choice([1, 2, 3, 4], size=n_vis, p=[.45, .3, .15, .1])
    v = np.repeat(np.arange(n_vis), k_vis)
    v_t = sample_days(rng, len(v), day_weights(0.6)) * DAY + office_seconds(rng, len(v))
    v_t = np.minimum(v_t, WINDOW_END)
    v_type = np.where(rng.random(len(v)) < 0.7, TT["page_view"], TT["ad_click"])
    v_ch = np.array([V.CH[TYPE_CHANNEL[x]] for x in V.TOUCH_TYPES])[v_type]
    v_camp = _campaign_at(rng, camps, v_ch, v_t // DAY)
    v_cookie = text.tokens(rng, n_vis, 16, text.HEX, "ck").take(pa.array(v))
    v_device = text.tokens(rng, n_vis, 20, text.HEX.upper(), "DV").take(pa.array(v))

    all_t = np.concatenate([t, v_t])
    all_type = np.concatenate([ttype, v_type])
    all_camp = np.concatenate([campaign, v_camp])
    content = _content_for(rng, contents, camps.n, all_type, all_camp, all_t)
    null = pa.nulls(len(v), pa.string())
    order = np.argsort(all_t, kind="stable")
    oi = pa.array(order)
    frame: Frame = {
        "touch_id": np.zeros(len(order), np.int64),
        "touched_at": all_t[order],
        "channel": Cat(np.concatenate([channel, v_ch])[order], tuple(ch_names)),
        "touch_type": Cat(all_type[order], V.TOUCH_TYPES),
        "campaign_id": np.where(all_camp >= 0, all_camp + 1, -1)[order],
        "content_id": np.where(content >= 0, content + 1, -1)[order],
    }
    for col in ID_COLS:
        extra = {"anonymous_id": v_cookie, "device_id": v_device}.get(col, null)
        frame[col] = pa.concat_arrays([idv[col], extra]).take(oi)
    frame["lead_id"] = np.concatenate([np.where(with_lead, lead_num[lead], -1), np.full(len(v), -1)])[order]
    return frame

