"""The repository carries its own definitions: docs/metrics.md (metrics) and docs/input-contract.md (raw input).

Every entry a dbt doc block, a dashboard section or any other file names exists in docs/metrics.md; every doc
block and every dashboard page points to one; the input contract's tables are the sources YAML's; nothing refers
to a specification outside the repository; and a page's "How is this counted?" expander shows the entry read from
docs/metrics.md when the page runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the dashboards are an app folder, not an installed package
    sys.path.insert(0, str(REPO))

from dashboards import metric_docs  # noqa: E402

METRICS = REPO / "docs" / "metrics.md"
SKIP_DIRS = {".git", ".venv", "target", "logs", "data", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
             "dbt_packages", "test-artifacts", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".sql", ".toml", ".cfg", ".txt", ".json", ".csv", ".sh", ""}
REFERENCE = re.compile(r"docs/metrics\.md#([a-z0-9\-]+)")
VIEWS = REPO / "dashboards" / "views"


def repo_files() -> list[Path]:
    out = []
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name == "Makefile":
            out.append(path)
    return out


def heading_anchors(text: str) -> set[str]:
    return {metric_docs.slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+?)\s*$", text, re.MULTILINE)}


def test_metrics_md_has_an_entry_per_metric_with_its_parts() -> None:
    entries = metric_docs.entries()
    assert len(entries) >= 20, sorted(entries)
    for anchor, (title, body) in entries.items():
        assert "**Where.**" in body or anchor == "overview-kpi-tiles", f"{title}: no mart and column named"
        if "**Where.**" in body:
            assert re.search(r"`marts\.\w+", body), f"{title}: the Where paragraph names no mart"
        assert "**Definition.**" in body or anchor == "overview-kpi-tiles", f"{title}: no definition"


def test_every_named_entry_exists() -> None:
    """`docs/metrics.md#anchor` anywhere in the repository, the dashboards' `metrics=(…)` and the file's own links
    all name an entry that exists."""
    text = METRICS.read_text(encoding="utf-8")
    entries = set(metric_docs.entries())
    headings = heading_anchors(text)
    missing = []
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        for anchor in REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if anchor not in entries:
                missing.append(f"{path.relative_to(REPO)}: docs/metrics.md#{anchor}")
    for view in sorted(VIEWS.glob("*.py")):
        for group in re.findall(r"metrics=\(([^)]*)\)", view.read_text(encoding="utf-8")):
            for anchor in re.findall(r'"([^"]+)"', group):
                if anchor not in entries:
                    missing.append(f"{view.relative_to(REPO)}: metrics=({anchor!r})")
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        if anchor not in headings:
            missing.append(f"docs/metrics.md: link to #{anchor}")
    assert not missing, "\n".join(missing)


def test_every_metric_doc_block_links_its_entry() -> None:
    blocks = {}
    for path in sorted((REPO / "models" / "docs").glob("*.md")):
        blocks |= dict(re.findall(r"\{% docs (\w+) %\}(.*?)\{% enddocs %\}", path.read_text(encoding="utf-8"), re.S))
    assert len(blocks) >= 20
    unlinked = [name for name, body in blocks.items() if name.startswith("metric_") and not REFERENCE.search(body)]
    assert not unlinked, f"doc blocks without a docs/metrics.md entry: {unlinked}"
    # and every block is named in the entry it belongs to, so an analyst can go from the file back to dbt
    text = METRICS.read_text(encoding="utf-8")
    unnamed = [name for name in blocks if name.startswith("metric_") and f"`{name}`" not in text]
    assert not unnamed, f"docs/metrics.md does not name the doc blocks {unnamed}"


def test_every_dashboard_page_says_how_it_counts() -> None:
    """Each page with figures has at least one "How is this counted?" expander (the Data page's rules are
    docs/validation.md's)."""
    pages = {p.stem: p.read_text(encoding="utf-8") for p in VIEWS.glob("*.py")}
    without = [name for name, code in pages.items() if name != "data" and "metrics=(" not in code]
    assert not without, without


def test_nothing_refers_to_a_specification_outside_the_repository() -> None:
    word = "SP" + "EC"  # spelled apart so that this file does not match itself
    pattern = re.compile(rf"\b{word}\b|{word}\.md")
    found = []
    for path in repo_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_input_contract_document_is_the_sources_yaml() -> None:
    from closedloop import contract, contract_doc

    assert contract_doc.current() == contract_doc.render(), (
        "docs/input-contract.md is out of step with models/staging/_sources.yml: "
        "run `python -m closedloop.contract_doc`")
    text = contract_doc.DOC.read_text(encoding="utf-8")
    for table in contract.tables():
        assert f"#### `{table.key}`" in text
        for column in table.columns:
            star = "★" if column.required else ""
            assert f"| `{column.name}` | {column.data_type} | {star} |" in text, (table.key, column.name)


def test_readme_links_only_documents_that_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/metrics.md" in readme and "docs/input-contract.md" in readme
    for name in re.findall(r"`?((?:docs|dashboards|models|tests|bench)/[\w./-]+\.(?:md|yml|py))`?", readme):
        assert (REPO / name).exists(), f"README names {name}, which is not in the repository"


def test_expander_renders_the_entry_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text comes from the file at run time (one definition): an edited entry shows, links inside the file
    become words, a missing file is one sentence."""
    edited = tmp_path / "metrics.md"
    edited.write_text("# M\n\n## Group\n\n### Stage conversion\n\n**Definition.** Edited today, see "
                      "[Stage reached](#stage-reached).\n\n## Next group\n", encoding="utf-8")
    monkeypatch.setattr(metric_docs, "METRICS_MD", edited)
    text = metric_docs.markdown(["stage-conversion", "not-an-entry"])
    assert text.startswith("**Stage conversion** · `docs/metrics.md#stage-conversion`")
    assert "Edited today, see Stage reached." in text and "Next group" not in text
    monkeypatch.setattr(metric_docs, "METRICS_MD", tmp_path / "gone.md")
    assert metric_docs.markdown(["stage-conversion"]) is None


@pytest.mark.parametrize(("lang", "label"), [("English", metric_docs.LABEL[1]), ("中文", metric_docs.LABEL[0])])
def test_stage_page_expander_shows_the_definition(sample, monkeypatch: pytest.MonkeyPatch, lang: str,
                                                   label: str) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboards import queries as q

    monkeypatch.setenv(q.ENV_WAREHOUSE, str(sample.warehouse))
    at = AppTest.from_file(str(REPO / "dashboards" / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("views/stages.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expanders = [e for e in at.expander if e.label == label]
    assert expanders, [e.label for e in at.expander]
    shown = "\n".join(m.value for e in expanders for m in e.markdown)
    title, body = metric_docs.entries()["stage-conversion"]
    assert "**Stage conversion** · `docs/metrics.md#stage-conversion`" in shown
    assert "conversion = advanced / (reached − open)" in shown and "Open deals" in shown
    assert "**Significance**" in shown and "too_few" in shown  # the heatmap's and comparisons' entries
