"""Great Expectations at the door: run the suites in `expectations/` over raw rows and say which rows fail.

One suite per contract table, as GX JSON (`expectations/<family>.<table>.json`). Each expectation's `meta` says
what a failure means: `rule` (the name reported beside the row), `scope` (`row`: decidable from the row
alone, checked chunk by chunk; `table`: needs the whole table, such as unique keys and foreign keys) and
`severity` (`reject`: the row is set aside; `warn`: counted, the row stays).

Suites refer to helper columns this module adds before GX sees a chunk: `x__parsed` is `x` typed by the very
staging macro dbt uses (`macros/staging.sql`, rendered here; null when it cannot be parsed), so a row that
passes validation is a row staging can cast; `x__issue` is why the value is not typed when that is more than a
format error (`ambiguous_timezone: CST may be …`, `implausible_date: …`, `precision: …`; the `*_issue` macro
beside the typing macro, so the check and the conversion are one definition); `x__norm` is `x` trimmed and
lower-cased (how staging compares enums); `x__date` is the date of a parsed `x`. GX runs on its pandas path
(its SQL path over DuckDB is broken, see docs/validation.md); importing it costs ~2 s, so only the build and
`closedloop validate` import this. By default the rows are judged by the suites compiled to SQL
(closedloop/door.py) and GX re-judges the rows set aside; `CLOSEDLOOP_DOOR=gx` has GX judge every row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import re
import warnings
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa

from closedloop import PROJECT_DIR, contract
from closedloop.readers import FILE, HELPER_KINDS, ROW, Rejection
from closedloop.sql import ident

SUITES_DIR = PROJECT_DIR / "expectations"
MACROS = PROJECT_DIR / "macros" / "staging.sql"
POSITION = "__i"
_SHADOW = re.compile(rf"^(?P<col>.+?)__(?P<kind>{'|'.join(HELPER_KINDS)}"
                     r"|in__(?P<family>[a-z]+)__(?P<table>[a-z_]+?)__(?P<key>[a-z_]+))$")
# Staging macro per contract data type, used for `x__parsed`.
_PARSERS = {"timestamp": "cl_timestamp", "date": "cl_date", "decimal(18,2)": "cl_amount", "integer": "cl_integer",
            "bigint": "cl_bigint", "boolean": "cl_boolean"}
# The macro naming the rule a value breaks when it is not a plain format error (`x__issue`), per data type.
_ISSUES = {"timestamp": "cl_timestamp_issue", "date": "cl_date_issue", "decimal(18,2)": "cl_amount_issue"}

MESSAGES = {
    "required": "required value is empty",
    "type_timestamp": "not a timestamp staging can read (ISO 8601, e.g. 2026-03-01T09:30:00, with +08:00, UTC or "
                      "Asia/Shanghai)",
    "type_date": "not a date staging can read (ISO 8601, e.g. 2026-03-01)",
    "type_number": "not a number (an optional sign, digits and an optional decimal point, e.g. -1200.50; no "
                   "thousands separators, currency signs, exponent or underscores)",
    "type_integer": "not a whole number (an optional sign and digits; no decimals, exponent or separators)",
    "ambiguous_timezone": "time zone is ambiguous",  # + its meanings, from the macro
    "unknown_timezone": "time zone is not known",
    "implausible_date": "date is not plausible",
    "precision": "more decimals than the column keeps",
    "type_boolean": "not a boolean (true/false, 1/0, yes/no, 是/否)",
    "allowed_values": "value is not one of the allowed values",
    "out_of_range": "value is outside the allowed range",
    "non_negative": "amount is negative",
    "future_date": "date is in the future beyond the tolerance",
    "order": "dates are out of order",
    "duplicate_key": "key appears more than once; the last row in file order is kept",
    "foreign_key": "refers to a key that does not exist",  # + which parent, from the expectation
}


class SuiteError(Exception):
    """A suite file is invalid or an expectation raised instead of evaluating: a bug, not bad data."""


@dataclass(frozen=True)
class Expectation:
    config: dict
    rule: str
    scope: str
    severity: str

    @property
    def columns(self) -> list[str]:
        """Every frame column the expectation reads (target columns and row-condition columns)."""
        kw = self.config["kwargs"]
        cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw] + list(kw.get("column_list", []))
        cols += self.config.get("meta", {}).get("uses", [])
        cols += _condition_columns(kw.get("row_condition"))
        return cols

    @property
    def reported_column(self) -> str:
        kw = self.config["kwargs"]
        name = kw.get("column") or kw.get("column_A") or ", ".join(kw.get("column_list", []))
        return ", ".join(base_column(c) for c in name.split(", "))

    @property
    def parameter_names(self) -> list[str]:
        return [v["$PARAMETER"] for v in self.config["kwargs"].values() if isinstance(v, dict) and "$PARAMETER" in v]

    @property
    def references(self) -> list[str]:
        """Parent keys a foreign-key expectation needs, as `crm/accounts.account_id`."""
        return sorted({reference(c) for c in self.columns if reference(c)})


def _condition_columns(condition: object) -> list[str]:
    """Columns named in a GX row condition (its JSON form: nullity/comparison leaves under and/or)."""
    if isinstance(condition, dict):
        if "conditions" in condition:
            return [c for sub in condition["conditions"] for c in _condition_columns(sub)]
        column = condition.get("column")
        return [column["name"]] if isinstance(column, dict) else []
    if isinstance(condition, str):
        return re.findall(r"`([^`]+)`", condition)
    return []


def reference(shadow: str) -> str | None:
    """`account_id__in__crm__accounts__account_id` -> `crm/accounts.account_id` (None for other columns)."""
    m = _SHADOW.match(shadow)
    if not m or not m.group("family"):
        return None
    return f"{m.group('family')}/{m.group('table')}.{m.group('key')}"


def base_column(name: str) -> str:
    m = _SHADOW.match(name)
    return m.group("col") if m else name


@cache
def suite(table_key: str) -> tuple[Expectation, ...]:
    path = SUITES_DIR / f"{table_key.replace('/', '.')}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SuiteError(f"{path}: no expectation suite for table `{table_key}`.") from exc
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: invalid JSON: {exc}") from exc
    out = []
    for i, cfg in enumerate(doc.get("expectations", [])):
        meta = cfg.get("meta", {})
        rule, scope, severity = meta.get("rule"), meta.get("scope", "row"), meta.get("severity", "reject")
        if not rule or scope not in ("row", "table") or severity not in ("reject", "warn"):
            raise SuiteError(f"{path}: expectation {i + 1} needs meta.rule, meta.scope row|table and "
                             "meta.severity reject|warn.")
        out.append(Expectation(cfg, rule, scope, severity))
    return tuple(out)


@cache
def _macros():
    import jinja2

    variables = contract.project_vars()

    def var(name: str, default=None):
        return variables.get(name, default)

    env = jinja2.Environment()
    return env.from_string(MACROS.read_text(encoding="utf-8"), globals={"var": var}).module


@cache
def stage_names() -> list[str]:
    seed = pd.read_csv(PROJECT_DIR / "seeds" / "stages.csv", dtype=str, keep_default_na=False)
    return seed["stage_name"].str.strip().tolist()


_quote = ident  # closedloop.sql: the one identifier quoting


def shadow_sql(table: contract.Table, shadow: str, typed: dict[str, str] | None = None) -> str:
    """The DuckDB expression for one helper column, from the same macro staging uses (`typed`: columns already
    holding a contract column's `typed_sql`, by contract column, so the value is parsed once)."""
    m = _SHADOW.match(shadow)
    if not m:
        raise SuiteError(f"`{shadow}` is not a helper column (x__parsed, x__norm, x__date).")
    col, kind = m.group("col"), m.group("kind")
    if m.group("family"):
        raise SuiteError(f"`{shadow}` is a foreign-key helper column, computed from the parent's keys.")
    types = {c.name: c.data_type for c in table.columns}
    if col not in types:
        raise SuiteError(f"suite for `{table.key}` refers to `{col}`, which is not a contract column.")
    q = _quote(col)
    macros = _macros()
    if kind == "norm":
        return str(macros.cl_enum(q))
    if kind == "issue":
        issue = _ISSUES.get(types[col])
        if issue is None:
            raise SuiteError(f"suite for `{table.key}`: `{col}` is {types[col]}, which has no `__issue` helper.")
        return f"try({getattr(macros, issue)(q)})"
    parsed = (typed or {}).get(col) or typed_sql(table, col)
    if parsed is None:
        raise SuiteError(f"suite for `{table.key}`: `{col}` is {types[col]}, which has no parser.")
    if kind == "date":
        return f"cast(cast({parsed} as date) as timestamp)"
    if types[col] == "date":
        return f"cast({parsed} as timestamp)"
    if types[col].startswith("decimal"):
        return f"cast({parsed} as double)"
    return parsed


def typed_sql(table: contract.Table, column: str) -> str | None:
    """The DuckDB expression typing a contract column's text with the staging macro for its declared type (the
    value the row rules check and landing writes), or None for a text column."""
    parser = _PARSERS.get(next(c.data_type for c in table.columns if c.name == column))
    if parser is None:
        return None
    return f"try({getattr(_macros(), parser)(_quote(column))})"


def business_now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(str(contract.project_vars().get("timezone", "Asia/Shanghai")))).replace(tzinfo=None)


_SERIALS = itertools.count()
# Run GX with result_format BOOLEAN_ONLY first and COMPLETE only for the expectations that failed.
QUICK_FIRST_PASS = True


@dataclass
class Failure:
    position: int  # row position in the frame that was validated
    column: str | None
    rule: str
    severity: str
    value: object
    detail: str = ""


class Validator:
    """One GX context for a whole validation run; suites are registered once per table and scope."""

    def __init__(self, now: dt.datetime | None = None, future_tolerance_days: float | None = None,
                 door: str | None = None):
        from closedloop import door as doors

        # `sql`: the rules run as compiled DuckDB predicates (closedloop.door); `gx`: GX's pandas path judges
        # every row, the previous door. GX's context starts on first use (~2.5 s), which the sql door needs only
        # to re-judge the rows it set aside.
        self.door = door or doors.door()
        self._serial = next(_SERIALS)
        self._gx = None
        self._definitions: dict[tuple[str, str], object] = {}
        tolerance = future_tolerance_days if future_tolerance_days is not None else float(
            contract.project_vars().get("future_tolerance_days", 1))
        self.latest_allowed_at = (now or business_now()) + dt.timedelta(days=tolerance)
        self._con = duckdb.connect()

    def _start_gx(self) -> None:
        if self._gx is not None:
            return
        for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
            logging.getLogger(name).setLevel(logging.ERROR)
        import great_expectations as gx

        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = {"globally": False}
        asset = self._context.data_sources.add_pandas("closedloop_raw").add_dataframe_asset("rows")
        self._batch = asset.add_batch_definition_whole_dataframe("chunk")

    def close(self) -> None:
        self._con.close()

    def base_parameters(self) -> dict:
        return {"latest_allowed_at": self.latest_allowed_at, "stage_names": stage_names()}

    def prepare(self, table: contract.Table, frame: pd.DataFrame, expectations: tuple[Expectation, ...],
                keys: dict[str, set] | None = None) -> pd.DataFrame:
        """Add the helper columns the expectations read: typed by DuckDB with the staging macros, and foreign
        keys looked up in the parents' loaded keys (`keys`, by `crm/accounts.account_id`)."""
        frame = frame.reset_index(drop=True)
        for e in expectations:
            for c in e.columns:
                ref = reference(c)
                if ref and c not in frame:
                    base = frame[base_column(c)]
                    frame[c] = base.where(base.isin((keys or {}).get(ref, ())), None)
        shadows = sorted({c for e in expectations for c in e.columns
                          if _SHADOW.match(c) and not reference(c) and c not in frame})
        if shadows and len(frame):
            rel = self._con.from_df(frame[sorted({base_column(s) for s in shadows})])
            typed = rel.project(", ".join(f"{shadow_sql(table, s)} as {_quote(s)}" for s in shadows)).df()
            for s in shadows:
                frame[s] = typed[s].to_numpy()
        elif shadows:
            for s in shadows:
                frame[s] = pd.Series([], dtype=object)
        frame[POSITION] = range(len(frame))
        return frame

    def helpers(self, table: contract.Table, data: pa.Table, shadows: list[str]) -> pd.DataFrame:
        """Helper columns (`x__parsed`, `x__norm`, `x__date`) of an Arrow table, typed by DuckDB with the staging
        macros, as the pandas columns `prepare` makes."""
        if not shadows:
            return pd.DataFrame(index=pd.RangeIndex(data.num_rows))
        if not data.num_rows:
            return pd.DataFrame({s: pd.Series([], dtype=object) for s in shadows})
        rel = self._con.from_arrow(data.select(sorted({base_column(s) for s in shadows})))
        typed = rel.project(", ".join(f"{shadow_sql(table, s)} as {_quote(s)}" for s in shadows)).df()
        return typed.reset_index(drop=True)

    def _validate(self, table: contract.Table, scope: str, batch: pd.DataFrame, parameters: dict,
                  expectations: tuple[Expectation, ...], result_format: dict):
        self._start_gx()
        gx = self._gx
        key = (table.key, scope + ":" + ",".join(str(id(e)) for e in expectations))
        definition = self._definitions.get(key)
        if definition is None:
            # GX looks suites up by name in the process's latest context: names unique across Validators, or a
            # second Validator in the process (the sql door re-judging beside a gx door) runs another's suite.
            name = f"v{self._serial}.{table.key.replace('/', '.')}.{scope}.{len(self._definitions)}"
            suite_obj = self._context.suites.add(gx.ExpectationSuite(
                name=name, expectations=[e.config | {"meta": {**e.config.get("meta", {}), "i": i}}
                                         for i, e in enumerate(expectations)]))
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=self._batch, suite=suite_obj))
            self._definitions[key] = definition
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return definition.run(batch_parameters={"dataframe": batch}, expectation_parameters=parameters,
                                  result_format=result_format)

    def run(self, table: contract.Table, scope: str, frame: pd.DataFrame, parameters: dict,
            expectations: tuple[Expectation, ...], source: pd.DataFrame | pa.Table | None = None) -> list[Failure]:
        """Evaluate `expectations` over a prepared frame and return one Failure per failing row and rule. The
        values reported come from `source` (the rows in full, pandas or Arrow, same positions) when given."""
        if not expectations or not len(frame):
            return []
        batch = gx_frame(frame, expectations)
        if QUICK_FIRST_PASS:
            # A first pass that only says which expectations fail (GX skips collecting the rows that do), then
            # the rows of only those.
            quick = self._validate(table, scope, batch, parameters, expectations, {"result_format": "BOOLEAN_ONLY"})
            failing = [expectations[r.expectation_config.meta["i"]] for r in quick.results if not r.success]
            if not failing:
                return []
            expectations = tuple(failing)
        result = self._validate(table, scope, batch, parameters, expectations, {
            "result_format": "COMPLETE", "unexpected_index_column_names": [POSITION],
            "return_unexpected_index_query": False, "partial_unexpected_count": 0})
        failures = []
        for r in result.results:
            if r.success:
                continue
            exp = expectations[r.expectation_config.meta["i"]]
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise SuiteError(f"expectation `{exp.config['type']}` on `{exp.reported_column}` of `{table.key}` "
                                 f"could not run: {r.exception_info.get('exception_message')}")
            column = exp.reported_column
            refs = exp.references
            detail = f": no {' or '.join(refs)} with this value was loaded" if refs else ""
            issue = exp.config["kwargs"].get("column", "")
            issue = issue if issue.endswith("__issue") and issue in frame else None
            for item in r.result.get("unexpected_index_list") or []:
                pos = int(item[POSITION])
                value = _value(frame if source is None else source, pos, column)
                if issue is not None:  # `rule: detail`, from the macro that checked the value
                    detail = ": " + str(frame.at[pos, issue]).partition(": ")[2]
                failures.append(Failure(pos, column, exp.rule, exp.severity, value, detail))
        return failures


def _value(rows: pd.DataFrame | pa.Table, position: int, column: str) -> object:
    if isinstance(rows, pa.Table):
        return rows.column(column)[position].as_py() if column in rows.column_names else None
    return rows.at[position, column] if column in rows else None


def _at(rows: pd.DataFrame | pa.Table, position: int, column: str) -> object:
    if isinstance(rows, pa.Table):
        return rows.column(column)[position].as_py()
    return rows.at[position, column]


def gx_frame(frame: pd.DataFrame, expectations: tuple[Expectation, ...]) -> pd.DataFrame:
    """What GX is given: only the columns the expectations read (GX fingerprints and copies the whole batch for
    every expectation, so every column it does not read costs), and timestamps in nanoseconds where they fit
    (GX compares those vectorised, any other unit value by value in Python: the same comparisons, ~20× slower)."""
    columns = list(dict.fromkeys([c for e in expectations for c in e.columns if c in frame] + [POSITION]))
    out = frame[columns].copy(deep=False)
    for c in columns:
        dtype = out[c].dtype
        if pd.api.types.is_datetime64_dtype(dtype) and not pd.api.types.is_datetime64_ns_dtype(dtype):
            # A date beyond 2262 (or before 1677) does not fit: GX compares that column value by value.
            with contextlib.suppress(OverflowError, pd.errors.OutOfBoundsDatetime):
                out[c] = out[c].astype("datetime64[ns]")
    return out


def rejection(table: contract.Table, frame: pd.DataFrame | pa.Table, failure: Failure) -> Rejection:
    """A failure as the row set aside: file and row from the frame's provenance, message from the rule."""
    value = failure.value
    text = None if value is None or (isinstance(value, float) and value != value) else str(value)
    if text is not None and len(text) > 200:
        text = f"{text[:200]}… ({len(text):,} characters)"
    message = MESSAGES.get(failure.rule, failure.rule) + failure.detail
    if failure.rule == "allowed_values":
        message += _allowed_hint(table, failure.column)
    if failure.rule == "ambiguous_timezone" and not failure.detail.startswith(": in the tz database"):
        message += "; dbt var timezone_abbreviations says which one the export means (docs/validation.md)"
    return Rejection(str(_at(frame, failure.position, FILE)), int(_at(frame, failure.position, ROW)),
                     failure.column, failure.rule, text, message)


def _allowed_hint(table: contract.Table, column: str | None) -> str:
    for e in suite(table.key):
        if e.rule == "allowed_values" and e.reported_column == column:
            values = e.config["kwargs"]["value_set"]
            if isinstance(values, dict):
                values = stage_names()
            return f" ({', '.join(values)})"
    return ""


def split(expectations: tuple[Expectation, ...], scope: str, severity: str | None = None) -> tuple[Expectation, ...]:
    return tuple(e for e in expectations if e.scope == scope and (severity is None or e.severity == severity))


def foreign_parents(table_key: str, severity: str = "reject") -> set[str]:
    """Tables whose keys this table's foreign-key expectations of that severity need (`crm/accounts` …)."""
    return {r.split(".")[0] for e in suite(table_key) if e.severity == severity for r in e.references}


def load_order(keys: list[str]) -> list[str]:
    """Parents before children, so a row whose parent was set aside is itself set aside (no orphans land)."""
    done: list[str] = []
    pending = list(keys)
    while pending:
        for k in pending:
            if all(p in done or p not in keys or p == k for p in foreign_parents(k)):
                done.append(k)
                pending.remove(k)
                break
        else:
            raise SuiteError(f"foreign keys form a cycle among {', '.join(pending)}.")
    return done


__all__ = ["Expectation", "Failure", "SuiteError", "Validator", "business_now", "foreign_parents", "load_order",
           "rejection", "split", "suite"]
