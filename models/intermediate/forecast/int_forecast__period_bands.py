"""P10/P50/P90 of each current period's bookings still to come, per department and for the company (department
null), from a seeded simulation of the open deals (closedloop.forecast.bookings_totals): one row per period x
department. Same deals, same seed, same numbers. Deals are independent; the company's band is simulated over all
its deals (not added up from the departments' bands, which would overstate its width)."""

import zlib

import numpy as np
import pandas as pd

from closedloop import forecast as F
from closedloop.frames import to_pandas, to_result

COLUMNS = {"period": "string", "period_start": "datetime64[us]", "period_end": "datetime64[us]",
           "period_label": "string", "department_id": "string", "deals": "int64", "expected_open_bookings": "float64",
           "open_p10": "float64", "open_p50": "float64", "open_p90": "float64"}
PERIODS = {"month": "p_win_month", "quarter": "p_win_quarter", "half_year": "p_win_half_year"}


def model(dbt, session):
    dbt.config(materialized="table")
    seed = int(dbt.config.get("seed") or 15)
    fiscal_start = int(dbt.config.get("fiscal_year_start_month") or 1)
    # a ref nested in a subscript is invisible to dbt's parser: read the frame first
    as_of = to_pandas(dbt.ref("int_as_of"))
    as_of_at = pd.to_datetime(as_of["as_of_at"]).iloc[0]
    bounds = F.period_ends(np.datetime64(as_of_at.to_datetime64(), "us"), fiscal_start)
    deals = (to_pandas(dbt.ref("int_forecast__deal_probabilities").filter("is_current"))
             .sort_values("opportunity_id", kind="stable"))
    columns = list(PERIODS.values())
    departments = [(d, g) for d, g in deals.groupby("department_id", sort=True, dropna=True)]
    # Each department's deals are drawn once for all three periods, from a stream keyed by its name (not its
    # position), so adding a department leaves the others' numbers unchanged; the company's draws are the sum of
    # every department's and of the deals without one: all its open deals, each drawn once (never the departments'
    # percentiles added up, which would overstate the width).
    def draw(g: pd.DataFrame, stream: str) -> np.ndarray:
        return F.bookings_totals(g["amount"].to_numpy(float), [g[c].to_numpy(float) for c in columns],
                                 [seed, zlib.crc32(stream.encode())])

    simulated = {dept: draw(g, f"department|{dept}") for dept, g in departments}
    company = draw(deals[deals["department_id"].isna()], "no department")
    company = company + sum(simulated.values(), np.zeros_like(company))
    rows = []
    for k, (period, column) in enumerate(PERIODS.items()):
        start, end = bounds[period]
        label = F.period_label(period, start, fiscal_start)
        for dept, g in [(None, deals), *departments]:
            totals = company[k] if dept is None else simulated[dept][k]
            p10, p50, p90 = F.band_quantiles(totals)
            expected = float((g["amount"] * g[column]).sum())
            rows.append((period, start, end, label, dept, len(g), expected, p10, p50, p90))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return to_result(frame.astype(COLUMNS), session)
