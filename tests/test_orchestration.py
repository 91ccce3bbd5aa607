"""The Dagster integration (optional extra): its definitions load and one materialisation publishes a build."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds warehouses of its own: `make test-fast` leaves it out

dg = pytest.importorskip("dagster", reason="the optional `dagster` extra is not installed")

MINIMAL = Path(__file__).parent / "fixtures" / "minimal_export"


def test_dagster_materialises_the_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")  # no network, ever
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    from closedloop.orchestration.dagster import BuildConfig, closedloop_warehouse, defs

    assert defs.resolve_job_def("closedloop_build") is not None
    warehouse = tmp_path / "warehouse.duckdb"
    result = dg.materialize([closedloop_warehouse], run_config=dg.RunConfig(
        {"closedloop_warehouse": BuildConfig(raw=str(MINIMAL), warehouse=str(warehouse))}))
    assert result.success and warehouse.exists()
    metadata = result.asset_materializations_for_node("closedloop_warehouse")[0].metadata
    assert metadata["rows_read"].value == 5 and metadata["rows_set_aside"].value == 0
