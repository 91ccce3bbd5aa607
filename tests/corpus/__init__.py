"""The malformed-input corpus (issue 4): single-defect cases over the minimal export (`cases.py`) and one raw
folder that combines every row-level defect at once and still builds (`defects.py`). Documented in
docs/validation.md, "The malformed-input corpus"."""
