"""Independent forecast references: the generator's planted win probabilities per deal, written from the
generator's rules (closedloop/generate/pipeline.py) rather than read from the warehouse's estimate, and a plain
seeded simulation of a sum of independent wins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from closedloop.generate import pipeline as PL

# stage_order of the stages seed -> index of the generator's open stages (初步接洽 .. 商务谈判)
STAGE_INDEX = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4}
BETTER_DEPT, DROP_DEPT = "D220", "D110"


def planted_win(stage_order: int, department_id: str | None, is_new: bool, proposal_rate_late: bool) -> float:
    """P(won eventually) of a deal that sits in `stage_order`, under the planted advance probabilities: 10% skip
    需求确认 from 初步接洽 and 10% skip 商务谈判 from 招投标; the 方案交流 step takes the department's planted rate
    (the 华东一部 drop applies to entries from 2026-05-01)."""
    a = PL.ADVANCE_NEW if is_new else PL.ADVANCE_EXISTING
    rate = PL.BASE_RATE
    if department_id == BETTER_DEPT:
        rate = PL.BETTER_RATE
    elif department_id == DROP_DEPT and proposal_rate_late:
        rate = PL.DROP_RATE
    w5 = a[4]
    w4 = a[3] * (PL.SKIP + (1 - PL.SKIP) * w5)
    w3 = rate * w4
    w2 = a[1] * w3
    w1 = a[0] * (PL.SKIP * w3 + (1 - PL.SKIP) * w2)
    return {1: w1, 2: w2, 3: w3, 4: w4, 5: w5}[stage_order]


def planted_for(deals: pd.DataFrame, drop_from: pd.Timestamp) -> np.ndarray:
    """Planted P(won) of each row (stage_order, department_id, opportunity_type, entered_stage_at, as_of_at). A
    deal that has not yet reached 方案交流 enters it after the instant; one in it entered at entered_stage_at."""
    out = []
    for r in deals.itertuples(index=False):
        proposal_at = r.entered_stage_at if r.stage_order == 3 else r.as_of_at
        late = r.stage_order <= 3 and proposal_at >= drop_from
        out.append(planted_win(int(r.stage_order), r.department_id, r.opportunity_type == "new", late))
    return np.array(out)


def simulated_quantiles(amount: np.ndarray, p: np.ndarray, seed: int, draws: int,
                        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles of sum(amount x Bernoulli(p)) drawn deal by deal (a loop over deals, not a matrix product)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(draws)
    for a, q in zip(amount, p, strict=True):
        total += a * (rng.random(draws) < q)
    return np.quantile(total, quantiles)
