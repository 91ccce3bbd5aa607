"""One chunk of leads and everything that grows out of them, generated and written.

A chunk is a self-contained slice of the business: its leads, the accounts they become
(plus a proportional share of migrated customers), their opportunities, orders, tickets,
activities and touches. Chunks share only the company (users) and the campaigns, so each
chunk depends on nothing but (seed, chunk index) and the id offsets of earlier chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import accounts as AC
from . import followups as FU
from . import leads as LD
from . import pipeline as PL
from . import repeat as RP
from . import service as SV
from . import text
from . import vocab as V
from .activities import ActivityLog
from .company import Staff
from .marketing import Campaigns, Contents
from .schema import Cat, Frame, take_frame
from .timeutil import DAY, END_DAY, HOUR, NA, START_DAY
from .touches import build_touches
from .truth import PersonTruth, TruthAccumulator
from .writer import Writer


def chunk_rng(seed: int, index: int) -> np.random.Generator:
    """Independent stream per chunk: results never depend on how or when chunks run."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(1, index))))


@dataclass
class World:
    staff: Staff
    camps: Campaigns
    contents: Contents
    widths: dict[str, int]
    leads_per_campaign: np.ndarray


@dataclass
class Counters:
    """Ids handed out so far (chunks are numbered one after the other)."""

    account: int = 0
    opp: int = 0
    contact: int = 0
    activity: int = 0
    touch: int = 0
    order: int = 0
    ticket: int = 0
    person: int = 0


def _concat_column(a: object, b: object) -> object:
    """Two frame columns one after the other (codes of one vocabulary, Arrow text, or arrays)."""
    if isinstance(a, Cat):
        return Cat(np.concatenate([a.codes, b.codes]), a.vocab)  # type: ignore[union-attr]
    if isinstance(a, pa.Array):
        return pa.concat_arrays([a, b.cast(a.type)])  # type: ignore[union-attr]
    return np.concatenate([np.asarray(a), np.asarray(b)])


def _na(local: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    return np.where(local >= 0, numbers[np.maximum(local, 0)] if len(numbers) else NA, NA)


def _concat_pipes(a: PL.Pipeline, b: PL.Pipeline) -> PL.Pipeline:
    """New business first, then expansion: b's local opportunity indexes move up by len(a)."""
    opp = np.concatenate([a.hist[0], b.hist[0] + len(a.stage)])
    rest = tuple(np.concatenate([x, y]) for x, y in zip(a.hist[1:], b.hist[1:], strict=True))
    fields = ("stage", "closed_at", "won", "loss_reason", "owner", "amount")
    return PL.Pipeline((opp, *rest), *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in fields))


def run_chunk(world: World, index: int, seed: int, lead_offset: int, n: int, ctr: Counters, writer: Writer,
              truth: TruthAccumulator, persons: PersonTruth) -> None:
    rng = chunk_rng(seed, index)
    staff, camps = world.staff, world.camps
    part = index + 1

    # leads and their lifecycle ----------------------------------------------------------------
    base = LD.make_leads(rng, n, camps)
    lead_num = lead_offset + 1 + np.arange(n)
    acts = ActivityLog()
    sim = LD.simulate(rng, base, staff, acts)
    world.leads_per_campaign += np.bincount(base.campaign[base.campaign >= 0], minlength=camps.n)

    # accounts and new business -----------------------------------------------------------------
    acc = AC.build_accounts(rng, staff, base, sim)
    n_leg = int(acc.legacy.sum())
    n_acc = acc.n
    acc_num = ctr.account + 1 + np.arange(n_acc)
    conv_leads = acc.source_lead[n_leg:]
    n1 = len(conv_leads)
    amount1 = (np.rint(acc.acv[n_leg:] * rng.uniform(0.9, 1.3, n1) / 10_000) * 10_000).astype(np.int64)
    pipe1 = PL.simulate(rng, staff, acc.created[n_leg:], acc.owner0[n_leg:], amount1, np.zeros(n1, bool))
    customer_since = np.where(acc.legacy, acc.created, -1)
    customer_since[n_leg:] = np.where(pipe1.won, pipe1.closed_at, -1)
    lost_at = np.full(n_acc, -1, np.int64)
    lost_at[n_leg:] = np.where((pipe1.closed_at >= 0) & ~pipe1.won, pipe1.closed_at, -1)

    # subscriptions ------------------------------------------------------------------------------
    orders = SV.Orders()
    periods = SV.Periods()
    wj = np.flatnonzero(pipe1.won)
    w_acc, w_day = n_leg + wj, pipe1.closed_at[wj] // DAY
    orders.add(w_acc, w_day, pipe1.amount[wj], SV.ORD["new"], wj, w_day, w_day + SV.TERM - 1)
    impl = rng.random(len(wj)) < 0.4  # implementation services sold with the licence
    orders.add(w_acc[impl], np.minimum(w_day[impl] + rng.integers(0, 30, int(impl.sum())), END_DAY),
               (np.rint(pipe1.amount[wj][impl] * rng.uniform(0.15, 0.3, int(impl.sum())) / 10_000) * 10_000)
               .astype(np.int64), SV.ORD["service"])
    lapse_a1, lapse_d1 = SV.chains(rng, orders, periods, w_acc, w_day, pipe1.amount[wj])
    leg = np.arange(n_leg)
    leg_end = START_DAY + rng.integers(0, 365, n_leg)  # contract signed before the CRM existed
    lapse_a2, lapse_d2 = SV.chains(rng, orders, periods, leg, leg_end - SV.TERM + 1, acc.acv[:n_leg])

    own = AC.simulate_ownership(rng, staff, acc, lost_at, customer_since)

    # expansion and win-back on existing customers -------------------------------------------------
    per = periods.arrays()
    ea, et, eotype, eamt = SV.expansion_opps(rng, per, (np.concatenate([lapse_a1, lapse_a2]),
                                                        np.concatenate([lapse_d1, lapse_d2])), acc.acv)
    et = np.maximum(et, acc.created[ea] + HOUR)
    eowner = own.owner_at(ea, et)
    pool = eowner < 0
    eowner[pool] = staff.pick(rng, acc.team[ea[pool]], et[pool], ("sales",))
    pipe2 = PL.simulate(rng, staff, et, eowner, eamt, np.ones(len(ea), bool))
    won2 = np.flatnonzero(pipe2.won)
    day2 = pipe2.closed_at[won2] // DAY
    is_wb = eotype[won2] == V.OPP_TYPES.index("renewal")
    co_end = SV.period_end_at(per, ea[won2], day2)
    ex = ~is_wb
    otype2 = np.where(eotype[won2] == V.OPP_TYPES.index("upsell"), SV.ORD["upsell"], SV.ORD["cross_sell"])
    orders.add(ea[won2][ex], day2[ex], pipe2.amount[won2][ex], otype2[ex], n1 + won2[ex],
               np.where(co_end[ex] >= 0, day2[ex], NA), np.where(co_end[ex] >= 0, co_end[ex], NA))
    wb = won2[is_wb]
    orders.add(ea[wb], day2[is_wb], pipe2.amount[wb], SV.ORD["renewal"], n1 + wb, day2[is_wb],
               day2[is_wb] + SV.TERM - 1)
    SV.chains(rng, orders, periods, ea[wb], day2[is_wb], pipe2.amount[wb])  # won-back customers renew too
    per = periods.arrays()
    sa, st = SV.events_in_periods(rng, per, SV.SERVICE_PER_YEAR)
    orders.add(sa, st // DAY, (np.rint(20_000 * np.exp(0.6 * rng.standard_normal(len(sa))) / 100) * 10_000)
               .astype(np.int64), SV.ORD["service"])

    # repeat buyers without a subscription, among the accounts never won: a stream of their own, so every draw above
    # and below is the one it was before they were added
    r_acc, r_day, r_amt, r_first = RP.repeat_orders(RP.repeat_rng(seed, index), np.flatnonzero(customer_since < 0),
                                                    acc.created // DAY)
    orders.add(r_acc, r_day, r_amt, np.where(r_first, SV.ORD["new"], SV.ORD["service"]))
    truth.add_repeat(len(np.unique(r_acc)), len(r_acc))

    # opportunities: both phases together, numbered by creation time ----------------------------------
    pipe = _concat_pipes(pipe1, pipe2)
    n_opp = len(pipe.stage)
    o_created = np.concatenate([acc.created[n_leg:], et])
    o_account = np.concatenate([n_leg + np.arange(n1), ea])
    o_type = np.concatenate([np.zeros(n1, np.int64), eotype])
    o_lead = np.concatenate([conv_leads, np.full(len(ea), -1)])
    rank = np.empty(n_opp, np.int64)
    rank[np.argsort(o_created, kind="stable")] = np.arange(n_opp)
    opp_num = ctr.opp + 1 + rank

    referrer = AC.assign_referrers(rng, base, acc, customer_since)

    # activities ------------------------------------------------------------------------------------
    PL.add_activities(rng, staff, pipe, o_account, acts)
    AC.add_activities(rng, own, customer_since, acts)
    act = acts.frame(rng, staff.active, lead_num, acc_num, opp_num)
    # follow-ups of lost deals, from their own random stream so everything above stays as it was
    frng = FU.followup_rng(seed, index)
    planted = FU.plant_recontacts(frng, staff, pipe.closed_at, pipe.won, pipe.loss_reason, pipe.owner, o_account,
                                  truth.followups).frame(frng, staff.active, lead_num, acc_num, opp_num)
    act = {k: _concat_column(v, planted[k]) for k, v in act.items()}
    act["activity_id"] = ctr.activity + 1 + np.arange(len(act["activity_at"]))  # type: ignore[arg-type]

    # frames ----------------------------------------------------------------------------------------
    lead_acc = np.full(n, -1, np.int64)
    lead_acc[conv_leads] = n_leg + np.arange(n1)
    lead_opp = np.full(n, -1, np.int64)
    lead_opp[conv_leads] = np.arange(n1)
    leads_frame = _leads_frame(rng, base, sim, lead_num, referrer, lead_acc, lead_opp, acc_num, opp_num)
    leads_frame["disqualify_reason"] = FU.spell(frng, sim.disq_reason)
    writer.write_part("leads", leads_frame, part)
    e_lead, e_at, e_type, e_user, e_reason = sim.events
    writer.write_part("lead_events", {
        "lead_id": lead_num[e_lead], "event_at": e_at, "event_type": Cat(e_type, V.LEAD_EVENT_TYPES),
        "user_id": _na(e_user, np.arange(1, staff.n + 1)), "reason": FU.spell(frng, e_reason)}, part)
    writer.write_part("ownership_events", _ownership_frame(world, sim, own, lead_num, acc_num), part)
    opps_frame = _opps_frame(acc, pipe, opp_num, o_account, o_created, o_type, o_lead, acc_num, lead_num)
    opps_frame["loss_reason"] = FU.spell(frng, np.asarray(opps_frame["loss_reason"].codes))  # type: ignore[union-attr]
    writer.write_part("opportunities", opps_frame, part)
    h_opp, h_stage, h_at, h_owner, h_amt = pipe.hist
    writer.write_part("opportunity_stage_history", {
        "opportunity_id": opp_num[h_opp], "stage": Cat(h_stage, V.STAGES), "entered_at": h_at,
        "owner_user_id": h_owner + 1, "amount": h_amt}, part)
    writer.write_part("activities", act, part)
    o = orders.arrays()
    truth.add_orders(o)
    writer.write_part("orders", {
        "order_id": ctr.order + 1 + np.arange(len(o[0])), "account_id": acc_num[o[0]], "order_date": o[1],
        "amount": o[2], "order_type": Cat(o[3], V.ORDER_TYPES), "opportunity_id": _na(o[4], opp_num),
        "subscription_start": o[5], "subscription_end": o[6]}, part)
    lead_won = np.zeros(n, bool)
    lead_won[conv_leads] = pipe1.won
    touches, touch_person, n_touch_persons = build_touches(rng, base, camps, world.contents, lead_num,
                                                           sim.converted_at, lead_won)
    # marketing recontacts of disqualified leads, appended after the chunk's touches (own random stream)
    fu_touches, fu_lead = FU.plant_lead_touches(frng, staff, sim.events, sim.disq_reason, lead_num, truth.followups)
    touches = {k: _concat_column(v, fu_touches[k]) for k, v in touches.items()}
    is_root = base.person == np.arange(n)
    touch_person = np.concatenate([touch_person, (np.cumsum(is_root) - 1)[base.person][fu_lead]])
    touches["touch_id"] = ctr.touch + 1 + np.arange(len(touches["touched_at"]))  # type: ignore[arg-type]
    writer.write_part("touches", touches, part)

    writer.append("accounts", _accounts_frame(acc, own, acc_num, lead_num))
    c = AC.build_contacts(rng, acc, base)
    writer.append("contacts", {
        "contact_id": ctr.contact + 1 + np.arange(len(c.account)), "account_id": acc_num[c.account],
        "contact_name": c.name, "decision_role": Cat(c.role, V.DECISION_ROLES), "email": c.email, "phone": c.phone,
        "created_at": c.created})
    tickets = SV.tickets_frame(rng, periods.arrays(), acc.grade, acc.created, acc_num, ctr.ticket + 1)
    writer.append("tickets", tickets)

    # truths and counters ---------------------------------------------------------------------------------
    _add_persons(persons, base, ctr, lead_offset, touch_person, n_touch_persons, c.lead)
    truth.add_stage_step(staff.dept, pipe.hist, pipe.stage, o_created, pipe.owner)
    act_lead = np.asarray(act["lead_id"])
    has_lead = act_lead >= 0
    truth.add_leads(n, sim.ownership, sim.events, act_lead[has_lead] - lead_offset - 1,
                    np.asarray(act["activity_at"])[has_lead])
    truth.add_accounts(n_acc, int((acc.referred_by >= 0).sum()))
    ctr.account += n_acc
    ctr.opp += n_opp
    ctr.contact += len(c.account)
    ctr.activity += len(act["activity_at"])  # type: ignore[arg-type]
    ctr.touch += len(touches["touched_at"])  # type: ignore[arg-type]
    ctr.order += len(o[0])
    ctr.ticket += len(tickets["opened_at"])  # type: ignore[arg-type]


def _add_persons(persons: PersonTruth, base: LD.LeadBase, ctr: Counters, lead_offset: int, touch_person: np.ndarray,
                 n_touch_persons: int, contact_lead: np.ndarray) -> None:
    """Global person numbers: the chunk's persons of leads, its anonymous visitors, then its new contacts."""
    n = base.n
    is_root = base.person == np.arange(n)
    lead_person = (np.cumsum(is_root) - 1)[base.person]
    new = contact_lead < 0
    contact_person = np.where(new, n_touch_persons + np.cumsum(new) - 1, lead_person[np.maximum(contact_lead, 0)])
    first = ctr.person + 1
    persons.add("lead", lead_offset + 1, first + lead_person)
    persons.add("touch", ctr.touch + 1, first + touch_person)
    persons.add("contact", ctr.contact + 1, first + contact_person)
    chains = np.stack([base.persons.chain_first, base.persons.chain_second], axis=1) + lead_offset + 1
    traps = [(t.kind, t.id_type, t.value, len(t.leads)) for t in base.traps]
    total = n_touch_persons + int(new.sum())
    persons.add_chunk(total, n_touch_persons - int(is_root.sum()), lead_person, int(base.duplicate.sum()), chains,
                      traps)
    ctr.person += total


def _leads_frame(rng: np.random.Generator, base: LD.LeadBase, sim: LD.LeadSim, lead_num: np.ndarray,
                 referrer: np.ndarray, lead_acc: np.ndarray, lead_opp: np.ndarray, acc_num: np.ndarray,
                 opp_num: np.ndarray) -> Frame:
    n = base.n
    # Some leads lack an e-mail or a phone; a repeat lead keeps at least one, so its person can be found again.
    no_email = (rng.random(n) < 0.08) & ~base.keep_email
    no_phone = (rng.random(n) < 0.05) & ~base.keep_phone & ~(no_email & (base.person != np.arange(n)))
    email = text.null_where(text.noisy_emails(rng, base.email), no_email)
    phone = text.null_where(text.noisy_phones(rng, base.phone), no_phone)
    show_wx = base.wechat & ((base.channel == V.CH["微信公众号"]) | (rng.random(n) < 0.4))
    return {
        "lead_id": lead_num,
        "created_at": base.created,
        "created_at__offset": base.tz_offset,
        "channel": Cat(base.channel, V.CHANNELS),
        "status": Cat(LD.STATUS_OF_STATE[sim.state], V.LEAD_STATUSES),
        "campaign_id": np.where(base.campaign >= 0, base.campaign + 1, NA),
        "company_name": text.company_names(base.company),
        "contact_name": text.person_names(base.sur, base.giv),
        "email": email,
        "phone": phone,
        "wechat_openid": text.null_where(base.openid, ~show_wx),
        "industry": Cat(np.where(rng.random(n) < 0.1, -1, base.industry), V.INDUSTRIES),
        "region": Cat(base.region, V.REGIONS),
        "owner_user_id": np.where(sim.owner >= 0, sim.owner + 1, NA),
        "referrer_account_id": _na(referrer, acc_num),
        "converted_at": sim.converted_at,
        "converted_account_id": _na(lead_acc, acc_num),
        "converted_opportunity_id": _na(lead_opp, opp_num),
        "disqualify_reason": Cat(sim.disq_reason, V.REASONS),
    }


def _ownership_frame(world: World, sim: LD.LeadSim, own: AC.Ownership, lead_num: np.ndarray,
                     acc_num: np.ndarray) -> Frame:
    w = world.widths
    l_lead, l_at, l_type, l_user, l_reason = sim.ownership
    a_acc, a_at, a_type, a_user, a_reason = own.events
    entity = pa.concat_arrays([text.fmt_ids("L", lead_num[l_lead], w["L"]), text.fmt_ids("A", acc_num[a_acc], w["A"])])
    at = np.concatenate([l_at, a_at])
    order = np.argsort(at, kind="stable")
    user = np.concatenate([l_user, a_user])
    return {
        "entity_type": Cat(np.concatenate([np.zeros(len(l_lead), np.int64), np.ones(len(a_acc), np.int64)])[order],
                           V.ENTITY_TYPES),
        "entity_id": entity.take(pa.array(order)),
        "event_at": at[order],
        "event_type": Cat(np.concatenate([l_type, a_type])[order], V.OWNERSHIP_EVENT_TYPES),
        "user_id": np.where(user >= 0, user + 1, NA)[order],
        "reason": Cat(np.concatenate([l_reason, a_reason])[order], LD.OWN_REASONS),
    }


def _opps_frame(acc: AC.Accounts, pipe: PL.Pipeline, opp_num: np.ndarray, o_account: np.ndarray,
                o_created: np.ndarray, o_type: np.ndarray, o_lead: np.ndarray, acc_num: np.ndarray,
                lead_num: np.ndarray) -> Frame:
    order = np.argsort(opp_num, kind="stable")
    product = (acc.company["brand"][o_account] + o_type) % len(V.PRODUCTS)
    name = text.join(text.company_short({k: v[o_account] for k, v in acc.company.items()}), "-",
                     text.take(V.PRODUCTS, product), text.take(V.OPP_TYPE_LABELS, o_type))
    closed = pipe.closed_at >= 0
    f: Frame = {
        "opportunity_id": opp_num,
        "account_id": acc_num[o_account],
        "owner_user_id": pipe.owner + 1,
        "created_at": o_created,
        "amount": pipe.amount,
        "opportunity_type": Cat(o_type, V.OPP_TYPES),
        "stage": Cat(pipe.stage, V.STAGES),
        "is_closed": closed,
        "is_won": pipe.won,
        "opportunity_name": name,
        "source_lead_id": _na(o_lead, lead_num),
        "close_date": np.where(closed, pipe.closed_at // DAY, NA),
        "loss_reason": Cat(pipe.loss_reason, V.REASONS),
    }
    return take_frame(f, order)


def _accounts_frame(acc: AC.Accounts, own: AC.Ownership, acc_num: np.ndarray, lead_num: np.ndarray) -> Frame:
    return {
        "account_id": acc_num,
        "account_name": text.company_names(acc.company),
        "created_at": acc.created,
        "industry": Cat(acc.industry, V.INDUSTRIES),
        "company_size": Cat(acc.size, V.COMPANY_SIZES),
        "region": Cat(acc.region, V.REGIONS),
        "grade": Cat(acc.grade, V.GRADES),
        "owner_user_id": np.where(own.owner >= 0, own.owner + 1, NA),
        "source_lead_id": _na(acc.source_lead, lead_num),
        "referred_by_account_id": _na(acc.referred_by, acc_num),
    }

