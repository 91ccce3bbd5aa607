"""dbt's unit tests (the `unit_tests:` of the models' YAML: fixed inputs, expected rows) check the SQL's logic, not
the data, so `closedloop build` leaves them out (selectors.yml) and they run here, once, over a copy of the
sample's warehouse (a unit test needs its model's parents to exist)."""

from __future__ import annotations

import shutil

from closedloop.build import run_dbt
from closedloop.paths import current_landing_dir


def test_dbt_unit_tests_pass(sample, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample.warehouse, copy)  # the session's read-only connection holds the original
    result = run_dbt(["test", "--select", "test_type:unit"], current_landing_dir(sample.warehouse), copy, out=None,
                     target_path=tmp_path / "target")
    failed = [(r.node.name, r.message) for r in result.result.results if r.status != "pass"]
    assert result.success and not failed, failed
    assert len(result.result.results) >= 20
    assert {r.node.resource_type for r in result.result.results} == {"unit_test"}
    # The build prints every node it runs: none of these ran there.
    assert not [r.node.name for r in result.result.results if r.node.name in sample.build_log]
