"""Marketing touches: one person seen under cookies, devices, WeChat ids, e-mail and phone.

Identifiers are chosen per touch type the way real systems capture them (a page view
knows only the cookie and device, an e-mail open only the address, a WeChat follow only
the openid/unionid, a form fill ties cookie, e-mail and phone together), so the touches
of one person overlap pairwise and identity resolution can stitch them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text
from . import vocab as V
from .leads import LeadBase
from .marketing import Campaigns, Contents
from .schema import Cat, Frame
from .timeutil import DAY, HOUR, WINDOW_END, WINDOW_START, day_weights, office_seconds, sample_days, uniform_days

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


# Planted channel effects (truth.json attribution.planted). Webinars raise the chance to convert: a lead that
# becomes an opportunity attends one before the conversion with these probabilities (won deals more often),
# while a lead that never converts loses most of its webinars; webinars come early, and a closing touch (the
# proposal e-mail opened, the pricing page) sits right before most conversions, so last touch rarely sees them.
WEBINAR_IF_WON = 0.9
WEBINAR_IF_NOT_WON = 0.4
WEBINAR_DROPPED_IF_NO_CONVERSION = 0.8
CLOSING_TOUCH = 0.95
# the proposal e-mail, the pricing page, the case study sent before the meeting, the WeChat article shared
CLOSING_TYPES = (("page_view", .45), ("email_open", .25), ("download", .1), ("wechat_follow", .1), ("form_submit", .1))
# SEM ad clicks only ever open a journey: a person's ad click is that person's first touch, any later click is
# recorded as the page view it led to; every SEM lead starts with one.


def _planted(rng: np.random.Generator, base: LeadBase, converted_at: np.ndarray, won: np.ndarray,
             first_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Webinars before conversions, closing touches right before them, the first ad click of SEM leads."""
    created = base.created
    conv = np.flatnonzero(converted_at >= 0)
    w = conv[rng.random(len(conv)) < np.where(won[conv], WEBINAR_IF_WON, WEBINAR_IF_NOT_WON)]
    g = converted_at[w] - created[w]
    w_t = np.where(g > 2 * DAY, created[w] + (rng.uniform(0.1, 0.5, len(w)) * g).astype(np.int64),
                   created[w] - uniform_days(rng, 1, 20, len(w)))
    c = conv[rng.random(len(conv)) < CLOSING_TOUCH]
    c_t = np.maximum(converted_at[c] - rng.integers(600, 2 * DAY, len(c)),
                     created[c] + ((converted_at[c] - created[c]) * 0.8).astype(np.int64))
    sem = np.flatnonzero(base.channel == V.CH["SEM"])
    s_t = first_seen[sem] - rng.integers(60, 2 * HOUR, len(sem))
    lead = np.concatenate([w, c, sem])
    ttype = np.concatenate([np.full(len(w), TT["webinar_attend"]), _draw(rng, CLOSING_TYPES, len(c)),
                            np.full(len(sem), TT["ad_click"])])
    return lead, ttype, np.concatenate([w_t, c_t, s_t])


def _bridges(rng: np.random.Generator, base: LeadBase) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A chain person's three touches: L1 {e1} - download {e1, c} - page view {c, d} - form {d, p2, L2} - L2."""
    l1, l2 = base.persons.chain_first, base.persons.chain_second
    gap = np.maximum(base.created[l2] - base.created[l1], 0)
    t1 = base.created[l1] + (rng.uniform(0.05, 0.3, len(l1)) * gap).astype(np.int64) + 60
    t2 = base.created[l1] + (rng.uniform(0.4, 0.8, len(l1)) * gap).astype(np.int64) + 120
    t3 = np.minimum(base.created[l2] + rng.integers(HOUR, 10 * DAY, len(l2)), WINDOW_END)
    lead = np.concatenate([l1, l1, l2])
    ttype = np.repeat([TT["download"], TT["page_view"], TT["form_submit"]], len(l1))
    phase = np.repeat(np.array([3, 4, 5], np.int8), len(l1))
    return lead, ttype, np.concatenate([t1, t2, t3]), phase


def _first_only(person: np.ndarray, t: np.ndarray, ttype: np.ndarray) -> np.ndarray:
    """ad_click kept only on a person's first touch; later ones become the page view they led to."""
    order = np.lexsort((t, person))
    first = np.zeros(len(t), bool)
    first[order] = np.r_[True, person[order][1:] != person[order][:-1]]
    return np.where((ttype == TT["ad_click"]) & ~first, TT["page_view"], ttype)


def build_touches(rng: np.random.Generator, base: LeadBase, camps: Campaigns, contents: Contents,
                  lead_num: np.ndarray, converted_at: np.ndarray, won: np.ndarray) -> tuple[Frame, np.ndarray, int]:
    """Touches of the chunk's persons and of anonymous visitors.

    Returns the frame (in time order), the local person of every row (persons of leads numbered in the order of
    their first lead, then one person per anonymous visitor) and the number of persons.
    """
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
    # leads that never convert lose most of their webinars (they attend something else)
    never = converted_at < 0
    for lead_, type_ in ((p_lead, p_type), (q_lead, q_type)):
        drop = ((type_ == TT["webinar_attend"]) & never[lead_]
                & (rng.random(len(lead_)) < WEBINAR_DROPPED_IF_NO_CONVERSION))
        type_[drop] = TT["email_open"]
    first_seen = base.created.copy()
    np.minimum.at(first_seen, p_lead, p_t)
    x_lead, x_type, x_t = _planted(rng, base, converted_at, won, first_seen)
    r_lead, r_type, r_t, r_phase = _bridges(rng, base)

    lead = np.concatenate([p_lead, b_lead, q_lead, x_lead, r_lead])
    ttype = np.concatenate([p_type, b_type, q_type, x_type, r_type])
    t = np.concatenate([p_t, b_t, q_t, x_t, r_t])
    x_phase = np.where(x_t >= base.created[x_lead], 2, 0)
    phase = np.concatenate([np.zeros(len(p_lead)), np.ones(len(b_lead)), np.full(len(q_lead), 2), x_phase,
                            r_phase]).astype(np.int8)
    keep = (t >= WINDOW_START) & (t <= WINDOW_END)
    lead, ttype, t, phase = lead[keep], ttype[keep], t[keep], phase[keep]
    # people without WeChat cannot follow the account: they browse instead
    no_wx = ~base.wechat[lead] & (ttype == TT["wechat_follow"])
    ttype[no_wx] = TT["page_view"]
    ttype = _first_only(base.person[lead], t, ttype)
    m = len(lead)

    lead_ch = base.channel[lead]
    type_ch = np.array([V.CH[TYPE_CHANNEL[x]] for x in V.TOUCH_TYPES])[ttype]
    # a lead's own channel: its creating touch, its site visits (官网 leads) and its campaign's e-mails; an SEM
    # lead's later visits and e-mails are not ad clicks
    own_channel = (phase == 1) | ((ttype == TT["page_view"]) & (lead_ch == V.CH["官网"]))
    own_channel |= (ttype == TT["email_open"]) & (base.campaign[lead] >= 0) & (lead_ch != V.CH["SEM"])
    channel = np.where(own_channel, lead_ch, type_ch)
    campaign = np.where(channel == lead_ch, base.campaign[lead], -1)
    fill = campaign < 0
    campaign[fill] = _campaign_at(rng, camps, channel[fill], t[fill] // DAY)
    # a form fill always names the lead; later touches only when the cookie was already matched
    with_lead = (phase == 1) | (phase == 5) | (
        (phase == 2) & ((rng.random(m) < 0.5) | (ttype == TT["form_submit"])))

    # identifiers of the person behind each lead (a chain person has two sides, each with its own pools)
    ident = base.ident[lead]
    cookies = text.tokens(rng, n * 3, 16, text.HEX, "ck")
    devices = text.tokens(rng, n * 2, 20, text.HEX.upper(), "DV")
    n_cookie = rng.choice([1, 2, 3], size=n, p=[.6, .3, .1])
    n_device = rng.choice([1, 2], size=n, p=[.75, .25])
    li = pa.array(lead)
    birth = pa.array(phase == 1)
    idv = {
        "anonymous_id": cookies.take(pa.array(ident * 3 + (rng.random(m) * n_cookie[ident]).astype(np.int64))),
        "device_id": devices.take(pa.array(ident * 2 + (rng.random(m) * n_device[ident]).astype(np.int64))),
        "wechat_openid": base.openid.take(li),
        "wechat_unionid": base.unionid.take(li),
        # the creating form carries what was typed on the lead (a junk value too); other touches the person's own
        "email": text.noisy_emails(rng, pc.if_else(birth, base.email.take(li), base.p_email.take(li))),
        "phone": text.noisy_phones(rng, pc.if_else(birth, base.phone.take(li), base.p_phone.take(li))),
    }
    has_wx = base.wechat[lead]
    wx_form = (ttype == TT["form_submit"]) & (channel == V.CH["微信公众号"])
    captured_any = np.zeros(m, bool)
    for col in ID_COLS:
        captured = np.isin(ttype, [TT[x] for x in V.TOUCH_TYPES if col in CAPTURE[x]])
        if col == "wechat_openid":
            captured |= wx_form
        if col.startswith("wechat"):
            captured &= has_wx
        idv[col] = text.null_where(idv[col], ~captured)
        captured_any |= captured & np.asarray(idv[col].is_valid())
    # a touch must be someone's: one that captured nothing (a chain's first side has no phone) keeps its cookie
    bare = ~captured_any & ~with_lead & (phase < 3)
    for col in ("anonymous_id", "device_id"):
        rows = np.flatnonzero(bare)
        fresh = cookies if col == "anonymous_id" else devices
        width = 3 if col == "anonymous_id" else 2
        idv[col] = text.patch(idv[col], rows, fresh.take(pa.array(ident[rows] * width)))
    _bridge_ids(rng, base, idv, lead, phase)
    for trap in base.traps:
        if trap.kind == "showroom_device":  # the iPad at the show's check-in desk
            rows = np.flatnonzero((phase == 1) & np.isin(lead, trap.leads))
            idv["device_id"] = text.patch(idv["device_id"], rows, pa.array([trap.value] * len(rows)))

    # anonymous visitors who never become leads: cookie and device only
    n_vis = round(n * 0.6)
    k_vis = rng.choice([1, 2, 3, 4], size=n_vis, p=[.45, .3, .15, .1])
    v = np.repeat(np.arange(n_vis), k_vis)
    v_t = sample_days(rng, len(v), day_weights(0.6)) * DAY + office_seconds(rng, len(v))
    v_t = np.minimum(v_t, WINDOW_END)
    v_type = _first_only(v, v_t, np.where(rng.random(len(v)) < 0.7, TT["page_view"], TT["ad_click"]))
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
    is_root = base.person == np.arange(n)
    n_persons = int(is_root.sum())
    person_of_lead = (np.cumsum(is_root) - 1)[base.person]
    person = np.concatenate([person_of_lead[lead], n_persons + v])[order]
    return frame, person, n_persons + n_vis


def _bridge_ids(rng: np.random.Generator, base: LeadBase, idv: dict[str, pa.Array], lead: np.ndarray,
                phase: np.ndarray) -> None:
    """The chain's own identifiers: a cookie and a device seen nowhere else, so only the chain joins the sides."""
    k = len(base.persons.chain_first)
    if k == 0:
        return
    c = text.tokens(rng, k, 16, text.HEX, "ck")
    c3 = text.tokens(rng, k, 16, text.HEX, "ck")
    d = text.tokens(rng, k, 20, text.HEX.upper(), "DV")
    slot = np.full(base.n, -1, np.int64)
    slot[base.persons.chain_first] = np.arange(k)
    slot[base.persons.chain_second] = np.arange(k)
    values = {3: {"anonymous_id": c, "email": None}, 4: {"anonymous_id": c, "device_id": d},
              5: {"anonymous_id": c3, "device_id": d, "phone": None}}
    for ph, cols in values.items():
        rows = np.flatnonzero(phase == ph)
        s = pa.array(slot[lead[rows]])
        for col in ID_COLS:
            if col in cols:
                src = cols[col]
                if src is None:  # the side's own address or number, as the person types it
                    own = base.p_email if col == "email" else base.p_phone
                    new = own.take(pa.array(lead[rows]))
                    new = text.noisy_emails(rng, new) if col == "email" else text.noisy_phones(rng, new)
                else:
                    new = src.take(s)
            else:
                new = pa.nulls(len(rows), pa.string())
            idv[col] = text.patch(idv[col], rows, new)


def attribution_truth() -> dict:
    """truth.json attribution.planted: the channel effects the touches carry, for the attribution tests."""
    return {"planted": {
        "webinar": {
            "channel": "直播", "touch_type": "webinar_attend",
            "p_webinar_before_conversion_if_won": WEBINAR_IF_WON,
            "p_webinar_before_conversion_if_not_won": WEBINAR_IF_NOT_WON,
            "p_webinar_dropped_if_lead_never_converts": WEBINAR_DROPPED_IF_NO_CONVERSION,
            "p_closing_touch": CLOSING_TOUCH,
            "closing_touch_types": dict(CLOSING_TYPES),
            "expect": "直播 ranks high for opportunity and won under markov and shapley, low under last_touch",
        },
        "sem_first_only": {
            "channel": "SEM", "touch_type": "ad_click",
            "rule": "an ad_click is always its person's first touch (later clicks are recorded as page_view); "
                    "every SEM lead whose person is new starts with one",
            "expect": "first_touch credits SEM far more than last_touch",
        },
        "definition": (
            "Conversions: lead (created_at), opportunity (the lead's converted_at = opportunity created_at), won "
            "(close). A lead that converts attends a webinar (直播) between its creation and its conversion (before "
            "its creation when they are less than two days apart) with p_webinar_before_conversion_if_won / "
            "_if_not_won (its new-business opportunity won or not); a lead that never converts has each of its "
            "own webinars turned into an e-mail open with p_webinar_dropped_if_lead_never_converts. A closing "
            "touch (closing_touch_types, channel 官网) lands in the last 2 days (or last fifth) before the "
            "conversion with p_closing_touch. Realised effects are measured by tests/test_generate_identity.py."
        ),
    }}
