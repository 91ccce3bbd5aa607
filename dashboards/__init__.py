"""closedloop dashboards: a Streamlit multipage app over the marts (read-only).

Layout: `app.py` (entry point: page config, global filters, navigation), `views/` (one file per page, no SQL;
not `pages/`, which Streamlit treats as a legacy multipage folder and runs its files without app.py),
`queries.py` (all SQL, parameterised, cached per warehouse build), `charts.py` (Altair builders),
`i18n.py` (zh/en strings and number/date formats), `periods.py` (period arithmetic), `ui.py` (shared widgets:
tiles, tables, exports, error guards), `exports.py` (CSV/XLSX/PNG bytes) and `access.py` (roles, login
identity, masking; the scoping itself is applied in queries.py: docs/access-control.md).
"""
