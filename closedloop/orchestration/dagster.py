"""Dagster definitions for a scheduled closedloop build (optional extra: `pip install -e '.[dagster]'`).

    CLOSEDLOOP_RAW=/srv/crm-export CLOSEDLOOP_WAREHOUSE=/srv/closedloop/warehouse.duckdb \\
        dagster dev -m closedloop.orchestration.dagster

One asset, the published warehouse, materialised by `closedloop.build.build`: validation, landing, dbt, freshness,
the atomic publish and the run history stay one step. (dagster-dbt's per-model assets would run `dbt build`
straight against the served file and skip all of that; see docs/orchestration.md.) The build's own lock still
applies, so a Dagster run and a cron run never build the same warehouse at once.
"""

# No `from __future__ import annotations` here: Dagster reads BuildConfig's annotations at run time.
import io
import os
from pathlib import Path

import dagster as dg

from closedloop.build import build


class BuildConfig(dg.Config):
    raw: str = os.environ.get("CLOSEDLOOP_RAW", "data/raw")
    warehouse: str = os.environ.get("CLOSEDLOOP_WAREHOUSE", "data/warehouse.duckdb")
    mapping: str | None = None
    fail_on_stale: bool = False


@dg.asset(description="The published closedloop warehouse (validated exports, dbt marts, run history).")
def closedloop_warehouse(context: dg.AssetExecutionContext, config: BuildConfig) -> dg.MaterializeResult:
    log = io.StringIO()
    result = build(Path(config.raw), Path(config.warehouse), out=log, mapping=config.mapping,
                   fail_on_stale=config.fail_on_stale)
    context.log.info(log.getvalue()[-20_000:])
    tables = [t for t in result.tables if t.status != "absent"]
    return dg.MaterializeResult(metadata={
        "warehouse": str(result.warehouse),
        "seconds": round(result.seconds, 1),
        "dbt_nodes": result.nodes,
        "rows_read": sum(t.rows_read for t in tables),
        "rows_set_aside": sum(t.rows_rejected for t in tables),
        "stale_sources": result.freshness.get("warn", 0) + result.freshness.get("error", 0),
    })


build_job = dg.define_asset_job("closedloop_build", selection=[closedloop_warehouse])
daily = dg.ScheduleDefinition(job=build_job, cron_schedule=os.environ.get("CLOSEDLOOP_CRON", "15 6 * * *"),
                              execution_timezone=os.environ.get("CLOSEDLOOP_CRON_TZ", "Asia/Shanghai"))
defs = dg.Definitions(assets=[closedloop_warehouse], jobs=[build_job], schedules=[daily])
