"""The README's and docs' generated tables equal what scripts/gen_docs.py makes from the committed bench JSON."""
import importlib.util
import json

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
gen_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen_docs)


@pytest.mark.parametrize("path", gen_docs.targets(), ids=lambda p: p.name)
def test_generated_regions_are_current(path):
    text = path.read_text()
    assert gen_docs.render(text) == text, f"{path.name} is stale: run python scripts/gen_docs.py"


def test_readme_speed_table_comes_from_the_last_run():
    readme = (ROOT / "README.md").read_text()
    m = gen_docs.REGION.search(readme)
    assert m and m.group("kind") == "speed", "README has no generated speed table"
    data = json.loads((gen_docs.DOCS / m.group("src")).read_text())
    body = m.group("body")
    assert data["command"] in body and data["when"] in body
    assert body.count("\n| ") == len({r["model"] for r in data["rows"]}) + 1  # header + one row per model


def test_a_stale_number_is_rewritten():
    readme = (ROOT / "README.md").read_text()
    body = gen_docs.REGION.search(readme).group("body")
    row = next(line for line in body.splitlines() if line.startswith("| `"))
    stale = readme.replace(row, row.replace(" FPS", "0 FPS", 1), 1)
    assert stale != readme and gen_docs.render(stale) == readme


def test_unknown_region_is_an_error():
    with pytest.raises(SystemExit, match="unknown region"):
        gen_docs.render("<!-- gen:nonsense benchmarks.json -->\nx\n<!-- /gen:nonsense -->\n")


def test_any_bench_json_renders_as_rows():
    data = {"command": "python bench/x.py --n 2", "when": "2026-12-06 04:00", "rows": [
        {"model": "a", "fps": 30.04}, {"model": "b", "fps": 123.4, "dropped": 0}]}
    text = gen_docs.rows(data)
    assert "| model | fps | dropped |" in text and "| a | 30 |  |" in text and "| b | 123 | 0 |" in text
    assert "`python bench/x.py --n 2` on 2026-12-06 04:00 UTC" in text
