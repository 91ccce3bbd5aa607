"""The staging tests `closedloop build` leaves out (selectors.yml `closedloop_build`) each repeat a validation rule
that already held every row at the door: prove that rule exists for every one of them, that the selector leaves
out exactly these, and that they all still pass over the built warehouses (the sample and the defects corpus,
whose duplicates, blanks and bad values were set aside at the door)."""

from __future__ import annotations

import re
import shutil

import pytest

from closedloop import PROJECT_DIR, validate
from closedloop.build import run_dbt
from closedloop.paths import current_landing_dir

# What selectors.yml leaves out, as node selection arguments.
DOOR = ["test_name:not_null,path:models/staging", "test_name:unique,path:models/staging"]


@pytest.fixture(scope="module")
def door_tests(sample, tmp_path_factory) -> list:
    """The manifest's staging not_null/unique tests (parsed against a copy of the sample's warehouse)."""
    work = tmp_path_factory.mktemp("door")
    result = run_dbt(["parse"], current_landing_dir(sample.warehouse), work / "parse.duckdb", out=None,
                     target_path=work / "target")
    assert result.success, result.exception
    tests = [n for n in result.result.nodes.values()
             if n.resource_type == "test" and n.original_file_path.startswith("models/staging/")
             and n.test_metadata is not None and n.test_metadata.name in ("not_null", "unique")]
    assert len(tests) > 40  # every staging key and required column
    return tests


def _surrogate_columns(model: str) -> dict[str, list[str]]:
    """Surrogate key columns of a staging model: name -> the source columns it hashes."""
    sql = next((PROJECT_DIR / "models" / "staging").rglob(f"{model}.sql")).read_text(encoding="utf-8")
    return {name: re.findall(r"'(\w+)'", cols)
            for cols, name in re.findall(r"surrogate_key\(\[([^\]]*)\]\)\s*}}\s*as\s+(\w+)", sql)}


def _rule_for(test) -> str | None:
    """The validation reject rule that makes this staging test hold for every landed row, or None."""
    model = test.attached_node.split(".")[-1]
    family, name = model.removeprefix("stg_").split("__")
    suite = [e for e in validate.suite(f"{family}/{name}") if e.severity == "reject"]
    column = test.column_name
    surrogate = _surrogate_columns(model).get(column)
    if test.test_metadata.name == "not_null":
        if surrogate:
            return "md5 of the key columns is never null"
        for e in suite:
            kwargs = e.config["kwargs"]
            if (e.config["type"] == "expect_column_values_to_not_be_null" and kwargs.get("column") == column
                    and "row_condition" not in kwargs):
                return e.rule
        return None
    for e in (e for e in suite if e.rule == "duplicate_key"):
        kwargs = e.config["kwargs"]
        key = kwargs.get("column_list") or [kwargs["column"]]
        if key == [column] or (surrogate and [validate.base_column(c) for c in key] == surrogate):
            return e.rule
    return None


def test_every_left_out_staging_test_repeats_a_validation_rule(door_tests):
    uncovered = [f"{t.name} ({t.column_name})" for t in door_tests if _rule_for(t) is None]
    assert not uncovered, "staging tests left out of closedloop build without a validation rule: " + \
        ", ".join(uncovered)


def test_the_build_selector_leaves_out_exactly_those(sample, door_tests, tmp_path):
    result = run_dbt(["ls", "--selector", "closedloop_build", "--resource-type", "test", "--output", "json",
                      "--output-keys", "unique_id"], current_landing_dir(sample.warehouse), tmp_path / "ls.duckdb",
                     out=None, target_path=tmp_path / "target")
    assert result.success, result.exception
    selected = {line.split('"unique_id": "')[1].rstrip('"}') for line in result.result}
    left_out = {t.unique_id for t in door_tests}
    assert not selected & left_out
    assert len(selected) > 200  # the marts' and intermediate models' tests all stay


@pytest.mark.parametrize("which", ["sample", "defects"])
def test_left_out_staging_tests_pass_over_the_built_warehouse(which, request, door_tests, tmp_path):
    built = request.getfixturevalue(which)
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.warehouse, copy)  # the session's read-only connection holds the original
    result = run_dbt(["test", "--select", *DOOR], current_landing_dir(built.warehouse), copy, out=None,
                     target_path=tmp_path / "target")
    assert result.success, [(r.node.name, r.message) for r in result.result.results if r.status != "pass"]
    assert {r.node.unique_id for r in result.result.results} == {t.unique_id for t in door_tests}
