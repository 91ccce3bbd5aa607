"""An independent re-implementation of the public metrics, in pandas, straight from the raw export folder.

Written from SPEC §3/§4 (and the documented decisions in the marts' YAML where the SPEC leaves a choice open),
never by translating the dbt SQL: the tests compare the two, so a misreading on either side shows up as a
difference. Nothing here reads the warehouse.
"""
