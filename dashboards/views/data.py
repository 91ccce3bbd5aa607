"""Data: how current the data is, which warehouse file is served, and the rows of every mart."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboards import queries as q
from dashboards import ui

c = ui.ctx()
t = c.tr

with ui.section(t("freshness")):
    a, b, d = st.columns(3)
    a.metric(t("as_of_label"), t.datetime(c.as_of["as_of_at"]))
    b.metric(t("published_label"), t.datetime(datetime.fromtimestamp(c.build.published_at)))
    d.metric(t("size_label"), f"{c.build.size / 1e6:,.1f} MB")
    st.caption(f"{t('warehouse')}: `{c.build.path}`")

with ui.section(t("mart_rows")):
    rows = q.mart_rows()
    if rows.empty:
        ui.no_data(t("mart_rows"))
    else:
        ui.table(
            rows,
            t("mart_rows"),
            {"mart": t("mart"), "rows": t("row_count")},
            {"rows": "int"},
            key="mart_rows",
            height=min(740, 38 + 35 * len(rows)),
        )
    st.caption(t("validation_later"))
