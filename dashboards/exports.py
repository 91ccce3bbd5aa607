"""Bytes for the export buttons: CSV per table, one XLSX with a sheet per table, PNG per chart.

Pure functions (no Streamlit), run lazily when a download button is clicked. Text cells that a spreadsheet
would run as a formula (=, +, -, @, tab, carriage return first) get a leading apostrophe: an export of CRM text
must never execute in Excel ("formula injection").
"""

from __future__ import annotations

import logging

from closedloop.spreadsheet import csv_bytes, neutralise, neutralise_cell, sheet_name, xlsx_bytes  # noqa: F401

log = logging.getLogger("closedloop.dashboards")


def png_available() -> bool:
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return False
    return True


def png_bytes(chart_spec: dict, scale: float = 2.0) -> bytes:
    """Render a Vega-Lite spec to PNG offline with vl-convert (no browser, no network)."""
    import vl_convert as vlc

    spec = dict(chart_spec)
    if spec.get("width") in (None, "container"):
        spec["width"] = 760  # the app sizes charts to their container; a file needs a width of its own
    return vlc.vegalite_to_png(spec, scale=scale)
