"""Corpus cases of issue 13's "every failure is one sentence" class: names that are SQL.

A file name or a column name is data, never SQL: a part file named `…it's; drop table x; --.csv` and columns named
with quotes, double quotes and a statement load like any other (closedloop.sql quotes every value and name).
Hostile folder names for the raw folder, the landing and the warehouse are built for real in
tests/test_ops_hardening.py (they need a whole build, which the corpus does not run).
"""

from __future__ import annotations

from corpus.cases import MINIMAL_USERS, OPPS_HEADER, USERS, USERS_HEADER, Case, counts, csv_text, opp, write

SQL_FILE = "crm/opportunities_it's \"x\"; drop table x; --.csv"

CASES_OPS = (
    Case("sql_in_file_name", 'a part crm/opportunities_it\'s "x"; drop table x; --.csv with O4 in it',
         write(SQL_FILE, csv_text(OPPS_HEADER, [opp("O4")])), counts=counts(opportunities=(4, 4, 0)),
         landed={("crm/opportunities", "opportunity_id"): ["O1", "O2", "O3", "O4"]}),
    Case("sql_in_column_names", "crm/users.csv with extra columns `it's`, `say \"hi\"` and `x; drop table x; --`",
         write(USERS, csv_text([*USERS_HEADER, "it's", 'say "hi"', "x; drop table x; --"],
                               [r + ["a'b", 'c"d', "e;f"] for r in MINIMAL_USERS])),
         counts=counts(),
         landed={("crm/users", "it's"): ["a'b", "a'b"], ("crm/users", 'say "hi"'): ['c"d', 'c"d'],
                 ("crm/users", "x; drop table x; --"): ["e;f", "e;f"]}),
)
