"""An independent re-implementation of the public metrics, in pandas, straight from the raw export folder.

Written from docs/input-contract.md and docs/metrics.md (and the documented decisions in the marts' YAML where
the definitions leave a choice open),
never by translating the dbt SQL: the tests compare the two, so a misreading on either side shows up as a
difference. Nothing here reads the warehouse.
"""
