"""How well the warehouse closes its loops on a generated sample (a measurement, not a test).

Reads a raw folder made by `closedloop generate` (its truth.json plants the persons, traps, channel effects,
follow-up habits and repeat purchases) and the warehouse `closedloop build` made from it, and prints:

  identity      pairwise precision and recall of the persons found against the planted ones (all records;
                leads; leads and contacts), duplicate leads found against planted, and each planted trap with
                what the warehouse did with it (blocked or quarantined, persons it would have joined);
  attribution   per conversion type, each channel's share of the credited conversions and its rank under every
                model, for the channels the generator plants effects on (直播: webinars raise conversion when on
                the path; SEM: ad clicks only ever first);
  followups     per entity and department: the planted recontacts (on time, late, none) against the warehouse's
                follow-ups whose window has closed (done on time, done late, not done), and the on-time share of
                fct_followup_timeliness against the department's planted probability;
  forecast      the backtest's Brier score per method (pooled over month ends, company rows) and predicted against
                actual bookings; this quarter's expected bookings and band;
  repeat        the repeat-purchase backtest's totals (predicted against actual orders and revenue) and the planted
                process.

    .venv/bin/python bench/loop_quality.py --raw /tmp/s1 --warehouse /tmp/s1w/wh.duckdb
    .venv/bin/python bench/loop_quality.py --raw /tmp/s1 --warehouse /tmp/s1w/wh.duckdb --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from independent.identity import pairwise, with_truth  # noqa: E402

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "markov", "shapley")
WATCHED = ("直播", "SEM")


def identity(raw: Path, con: duckdb.DuckDBPyConnection, truth: dict) -> dict:
    frame = with_truth(raw, con)
    scores = {}
    for name, part in (("all records", frame), ("leads", frame[frame.record_type == "lead"]),
                       ("leads and contacts", frame[frame.record_type.isin(["lead", "contact"])])):
        precision, recall = pairwise(part)
        scores[name] = {"precision": round(precision, 4), "recall": round(recall, 4)}
    audit = {(t, v): (a, p) for t, v, a, p in con.execute(
        "select identifier_type, identifier_value, action, persons_it_would_join from marts.fct_identity_audit")
        .fetchall()}
    traps = []
    for trap in truth["identity"]["traps"]:
        value = trap["value"]
        key = {"email": value.strip().lower(), "phone": "".join(c for c in value if c.isdigit())}.get(
            trap["identifier_type"], value)
        action, joined = audit.get((trap["identifier_type"], key), ("MERGED", None))
        traps.append({"kind": trap["kind"], "value": value, "planted_persons": trap["persons"], "action": action,
                      "persons_it_would_join": joined})
    duplicates = con.execute("select count(*) from marts.fct_leads where is_duplicate").fetchone()[0]
    return {"pairwise": scores, "duplicate_leads": {"found": duplicates,
                                                    "planted": truth["identity"]["duplicate_leads"]},
            "persons": {"found": con.execute("select count(*) from marts.dim_person").fetchone()[0],
                        "planted": truth["identity"]["persons"]},
            "traps": traps}


def attribution(con: duckdb.DuckDBPyConnection) -> dict:
    rows = con.execute("""
        select conversion_type, model, channel, sum(conversions_credited) as credited
        from marts.fct_channel_attribution
        where channel is not null
        group by conversion_type, model, channel""").df()
    out: dict = {}
    for (conversion, model), part in rows.groupby(["conversion_type", "model"]):
        part = part.sort_values(["credited", "channel"], ascending=[False, True]).reset_index(drop=True)
        total = part["credited"].sum()
        for channel in WATCHED:
            hit = part.index[part["channel"] == channel]
            if len(hit):
                out.setdefault(conversion, {}).setdefault(channel, {})[model] = {
                    "rank": int(hit[0]) + 1, "share": round(float(part.loc[hit[0], "credited"] / total), 3)}
    return out


def followups(con: duckdb.DuckDBPyConnection, truth: dict) -> dict:
    planted = truth["followups"]["planted_recontacts"]
    probability = truth["followups"]["on_time_planted"]
    rows = con.execute("""
        select entity_type, department_id,
               count(*) filter (where is_done_on_time) as done_on_time,
               count(*) filter (where is_on_time_calc and done_at is not null and not is_done_on_time) as done_late,
               count(*) filter (where is_on_time_calc and done_at is null) as not_done
        from marts.fct_followups group by all""").fetchall()
    shares = dict(con.execute("""select department_id, on_time_share from marts.fct_followup_timeliness
                                 where not is_all_departments""").fetchall())
    out: dict = {"by_department": [], "status": dict(con.execute(
        "select status, count(*) from marts.fct_followups group by 1 order by 1").fetchall())}
    for entity, dept, on_time, late, none in sorted(rows, key=lambda r: (r[0], str(r[1]))):
        number = str(dept or "").lstrip("D")
        if number not in planted.get(entity, {}):
            continue
        out["by_department"].append({
            "entity": entity, "department": dept, "planted": planted[entity][number],
            "warehouse": {"on_time": on_time, "late": late, "none": none},
            "planted_on_time_probability": probability.get(number),
            "on_time_share": round(float(shares[dept]), 3) if shares.get(dept) is not None else None})
    return out


def forecast(con: duckdb.DuckDBPyConnection) -> dict:
    scores = con.execute("""
        select method, count(distinct month_end), sum(deals), sum(brier_score * deals) / sum(deals),
               sum(predicted_bookings), sum(actual_bookings)
        from marts.fct_forecast_backtest where department_id is null group by 1 order by 4""").fetchall()
    quarter = con.execute("""select period_label, expected_bookings, p10, p90 from marts.fct_forecast_periods
                             where department_id is null and period = 'quarter'""").fetchone()
    return {"backtest": [{"method": m, "month_ends": n, "deals": int(d), "brier": round(b, 4),
                          "predicted_bookings": round(p), "actual_bookings": round(a)}
                         for m, n, d, b, p, a in scores],
            "this_quarter": dict(zip(("period", "expected", "p10", "p90"), quarter, strict=True)) if quarter else None}


def repeat(con: duckdb.DuckDBPyConnection, truth: dict) -> dict:
    fitted_to, accounts, po, ao, pr, ar = con.execute("""
        select max(fitted_to), count(*), sum(predicted_orders), sum(actual_orders), sum(predicted_revenue),
               sum(actual_revenue) from marts.fct_customer_value_backtest""").fetchone()
    planted = truth.get("repeat_purchase", {})
    return {"fitted_to": str(fitted_to), "accounts": accounts, "predicted_orders": round(po, 1),
            "actual_orders": int(ao), "predicted_revenue": round(pr), "actual_revenue": round(ar),
            "planted": {k: planted.get(k) for k in ("mean_rate_per_week", "mean_dropout", "mean_order_value")}}


def markdown(result: dict) -> str:
    lines = ["| records | precision | recall |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['precision']:.4f} | {v['recall']:.4f} |" for k, v in result["identity"]["pairwise"].items()]
    lines += ["", "| trap | value | planted persons | action | persons it would join |", "|---|---|---:|---|---:|"]
    lines += [f"| {t['kind']} | `{t['value']}` | {t['planted_persons']} | {t['action']} "
              f"| {t['persons_it_would_join']} |" for t in result["identity"]["traps"]]
    for conversion, channels in sorted(result["attribution"].items()):
        lines += ["", f"**{conversion}**: rank (share of credited conversions)", "",
                  "| channel | " + " | ".join(MODELS) + " |", "|---|" + "---:|" * len(MODELS)]
        for channel, models in channels.items():
            cells = [f"{models[m]['rank']} ({models[m]['share']:.0%})" if m in models else "–" for m in MODELS]
            lines.append(f"| {channel} | " + " | ".join(cells) + " |")
    fu = result["followups"]
    lines += ["", "**follow-ups**: statuses " + ", ".join(f"{k} {v:,}" for k, v in fu["status"].items()), "",
              "| entity | department | planted on time / late / none | warehouse on time / late / not done "
              "| planted P(on time) | on-time share |", "|---|---|---|---|---:|---:|"]
    for row in fu["by_department"]:
        p, w = row["planted"], row["warehouse"]
        share = f"{row['on_time_share']:.1%}" if row["on_time_share"] is not None else "–"
        lines.append(f"| {row['entity']} | {row['department']} | {p['on_time']} / {p['late']} / {p['none']} "
                     f"| {w['on_time']} / {w['late']} / {w['none']} | {row['planted_on_time_probability']} "
                     f"| {share} |")
    lines += ["", "**forecast backtest** (company, pooled over month ends)", "",
              "| method | month ends | deal forecasts | Brier | predicted bookings | actual bookings |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {b['method']} | {b['month_ends']} | {b['deals']:,} | {b['brier']:.4f} | "
              f"{b['predicted_bookings']:,} | {b['actual_bookings']:,} |" for b in result["forecast"]["backtest"]]
    q = result["forecast"]["this_quarter"]
    if q:
        lines += ["", f"This quarter ({q['period']}): expected {q['expected']:,.0f}, P10–P90 {q['p10']:,.0f} – "
                  f"{q['p90']:,.0f}."]
    r = result["repeat"]
    lines += ["", f"**repeat purchases**: fitted to {r['fitted_to']} on {r['accounts']:,} accounts; predicted "
              f"{r['predicted_orders']:,} repeat order days against {r['actual_orders']:,} actual, revenue "
              f"{r['predicted_revenue']:,} against {r['actual_revenue']:,}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n\n", 1)[0], epilog=doc.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, required=True, help="raw folder written by closedloop generate")
    ap.add_argument("--warehouse", type=Path, required=True, help="warehouse built from it")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown tables")
    args = ap.parse_args(argv)
    truth = json.loads((args.raw / "truth.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        result = {"identity": identity(args.raw, con, truth), "attribution": attribution(con),
                  "followups": followups(con, truth), "forecast": forecast(con), "repeat": repeat(con, truth)}
    finally:
        con.close()
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
