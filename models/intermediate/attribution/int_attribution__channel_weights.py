"""Data-driven attribution weights (docs/metrics.md#markov-attribution, #shapley-attribution): one row per conversion
type x model (markov, shapley) x channel set that converted x channel of the set. The matrix work is numpy, in
closedloop.attribution (pure functions, tested against independent implementations); this model only moves the
compact journey table in and the weights out. Every other attribution step is SQL."""

import pandas as pd

from closedloop.attribution import channel_weights
from closedloop.frames import to_pandas, to_result

COLUMNS = ["conversion_type", "model", "channel_set", "channel", "weight"]
INPUT = ["conversion_type", "path", "path_length", "channel_set", "channel_count", "is_converted", "journeys"]


def model(dbt, session):
    dbt.config(materialized="table")
    # sorted, so that floating-point sums add in the same order on every build (a rebuild gives the same bits)
    paths = to_pandas(dbt.ref("int_attribution__journey_paths"))
    paths = paths.sort_values(["conversion_type", "path", "is_converted"])
    rows = channel_weights(paths[INPUT].itertuples(index=False, name=None))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # typed even when empty (no touches and no conversions), so the table's columns never come out as nulls
    return to_result(frame.astype({"conversion_type": "string", "model": "string", "channel_set": "string",
                                   "channel": "string", "weight": "float64"}), session)
