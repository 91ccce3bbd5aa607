"""Sample data generator: every raw table of docs/input-contract.md, with planted truths.

``generate(out_dir, scale, seed, fmt, encoding)`` writes ``out_dir/{crm,campaign,service}/``
and ``out_dir/truth.json`` and returns the truth dict. Scale 1 is about 10k leads; work
is done in chunks of leads with numpy/Arrow, so memory stays bounded at any scale and
the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .chunk import Counters, World, run_chunk
from .company import build_staff, departments_frame
from .identity import DUPLICATE_WINDOW
from .marketing import build_campaigns, build_contents, campaigns_frame, contents_frame, spend_frames, spend_totals
from .schema import TABLES, id_widths
from .timeutil import DAY
from .touches import attribution_truth
from .truth import PERSONS_FILE, PersonTruth, TruthAccumulator
from .writer import Writer

__all__ = ["generate", "LEADS_PER_SCALE", "CHUNK_LEADS"]

LEADS_PER_SCALE = 10_000
CHUNK_LEADS = 100_000


def _world_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(0, stream))))


def _clear_previous(out: Path) -> None:
    """Remove files a previous run wrote (e.g. more parts at a larger scale); nothing else."""
    (out / PERSONS_FILE).unlink(missing_ok=True)
    for table, (sub, _) in TABLES.items():
        folder = out / sub
        if not folder.is_dir():
            continue
        pattern = re.compile(rf"^{re.escape(table)}(_\d{{4}})?\.(csv|parquet)$")
        for f in folder.iterdir():
            if pattern.match(f.name):
                f.unlink()


def _dump_truth(result: dict) -> str:
    """Indented JSON, with the long per-record arrays (identity.person_of_*) on one line each."""
    identity = result.get("identity", {})
    arrays = {k: identity.pop(k) for k in [k for k, v in identity.items() if isinstance(v, list) and k.startswith(
        "person_of_")]}
    for k in arrays:
        identity[k] = f"@@{k}@@"
    text = json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    for k, v in arrays.items():
        text = text.replace(f'"@@{k}@@"', json.dumps(v, separators=(",", ":")))
        identity[k] = v
    return text


def generate(out_dir: str | Path, scale: float = 1.0, seed: int = 42, fmt: str = "csv",
             encoding: str = "utf-8", progress: Callable[[str], None] | None = None) -> dict:
    """Write every raw table of docs/input-contract.md under out_dir/{crm,campaign,service}/ and out_dir/truth.json.

    scale: 1 is about 10k leads (linear, fractional allowed); seed: same seed, same bytes;
    fmt: "csv" or "parquet"; encoding: CSV encoding ("utf-8", "utf-8-sig", "gbk", "gb18030").
    Files this generator wrote earlier in out_dir (same table names) are replaced.
    Returns the truth dict (planted and realised values, see ``truth.DEFINITIONS``).
    progress: called with a line after each chunk of leads (large scales take minutes).
    """
    if not scale > 0:
        raise ValueError("scale must be positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    widths = id_widths(scale)
    writer = Writer(out, fmt, encoding, widths)

    staff = build_staff(_world_rng(seed, 0), scale)
    camps = build_campaigns(_world_rng(seed, 1), scale)
    contents = build_contents(_world_rng(seed, 2), camps, scale)
    world = World(staff, camps, contents, widths, np.zeros(camps.n, np.int64))
    writer.append("departments", departments_frame())
    writer.append("users", staff.frame())

    truth = TruthAccumulator()
    counters = Counters()
    n_leads = max(1, round(LEADS_PER_SCALE * scale))
    persons = PersonTruth(out, n_leads)
    for index, lo in enumerate(range(0, n_leads, CHUNK_LEADS)):
        run_chunk(world, index, seed, lo, min(CHUNK_LEADS, n_leads - lo), counters, writer, truth, persons)
        if progress is not None and n_leads > CHUNK_LEADS:  # one chunk is done in seconds
            progress(f"  {min(lo + CHUNK_LEADS, n_leads):,} of {n_leads:,} leads written, with their events, deals "
                     "and orders")

    # Spend is planted last: it needs the final lead count of every campaign.
    rng = _world_rng(seed, 3)
    spend, cpl = spend_totals(rng, camps, world.leads_per_campaign)
    writer.append("campaigns", campaigns_frame(rng, camps, spend))
    for frame in spend_frames(rng, camps, spend):
        writer.append("campaign_spend", frame)
    writer.append("contents", contents_frame(contents))
    writer.close()

    result = truth.finish(seed=seed, scale=scale, as_of=writer.max_ts, cpl=cpl, row_counts=writer.row_counts)
    result["format"] = {"fmt": fmt, "encoding": encoding}
    result["identity"] = persons.finish(DUPLICATE_WINDOW // DAY)
    result["attribution"] = attribution_truth()
    result["followups"] = truth.followups.as_json()
    (out / "truth.json").write_text(_dump_truth(result), encoding="utf-8")
    return result
