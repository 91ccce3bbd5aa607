"""closedloop: marketing and sales analytics warehouse (dbt + DuckDB) with meeting dashboards."""

from pathlib import Path

__version__ = "0.1.0"

# The dbt project lives at the repository root, next to this package.
PROJECT_DIR = Path(__file__).resolve().parent.parent
