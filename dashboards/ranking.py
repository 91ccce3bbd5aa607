"""How the ranking of channels changes between attribution models (Campaigns & ROI page).

Pure pandas over the small frame `queries.channel_attribution` returns: no SQL, no Streamlit, so the rules are
tested with fixed frames (tests/test_dashboard_attribution.py). Rank 1 is the channel credited the most; channels
with equal credit share the better rank (competition ranking, 1-2-2-4), and a channel a model credits nothing
ranks after every credited one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# The order models are shown in: rule-based first, then data-driven.
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped", "markov", "shapley")
DATA_DRIVEN = ("markov", "shapley")


@dataclass(frozen=True)
class RankChange:
    channel: str
    base_model: str
    base_rank: int
    other_model: str
    other_rank: int

    @property
    def moved(self) -> int:
        """Places gained under the other model (positive: ranked better there)."""
        return self.base_rank - self.other_rank


def ranks(df: pd.DataFrame, channel: str = "channel", model: str = "model", value: str = "conversions"
          ) -> pd.DataFrame:
    """channel × model table of ranks (1 = most credit) from long rows (channel, model, value). Missing or zero
    credit ranks after every credited channel; ties share the better rank."""
    wide = df.pivot_table(index=channel, columns=model, values=value, aggfunc="sum").fillna(0.0)
    out = wide.rank(ascending=False, method="min")
    out = out.where(wide > 0, len(wide))  # uncredited: last
    return out.astype(int)[[m for m in MODELS if m in out.columns] + [m for m in out.columns if m not in MODELS]]


def rank_changes(df: pd.DataFrame, base: str = "last_touch", others: tuple[str, ...] = DATA_DRIVEN,
                 limit: int = 3, channel: str = "channel", model: str = "model", value: str = "conversions"
                 ) -> list[RankChange]:
    """The channels whose rank moves most between `base` and each of `others` (largest move first; ties: the
    better rank under the other model, then the channel's name). Channels that keep their rank are left out."""
    table = ranks(df, channel, model, value)
    if base not in table.columns:
        return []
    changes = [RankChange(str(ch), base, int(table.at[ch, base]), other, int(table.at[ch, other]))
               for other in others if other in table.columns for ch in table.index
               if table.at[ch, base] != table.at[ch, other]]
    # one sentence per channel: its largest move
    best: dict[str, RankChange] = {}
    for c in changes:
        if c.channel not in best or abs(c.moved) > abs(best[c.channel].moved):
            best[c.channel] = c
    ordered = sorted(best.values(), key=lambda c: (-abs(c.moved), c.other_rank, c.channel))
    return ordered[:limit]
