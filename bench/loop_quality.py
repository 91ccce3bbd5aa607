"""How well the warehouse closes the acquisition loop on a generated sample (a measurement, not a test).

Reads a raw folder made by `closedloop generate` (its truth.json plants the persons, traps and channel effects)
and the warehouse `closedloop build` made from it, and prints:

  identity      pairwise precision and recall of the persons found against the planted ones (all records;
                leads; leads and contacts), duplicate leads found against planted, and each planted trap with
                what the warehouse did with it (blocked or quarantined, persons it would have joined);
  attribution   per conversion type, each channel's share of the credited conversions and its rank under every
                model, for the channels the generator plants effects on (直播: webinars raise conversion when on
                the path; SEM: ad clicks only ever first).

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
        result = {"identity": identity(args.raw, con, truth), "attribution": attribution(con)}
    finally:
        con.close()
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
