"""The README's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, monkeypatch):
    monkeypatch.chdir(README.parent)  # the examples run from the project root, as a user would
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


def test_readme_is_a_guide_of_at_most_350_lines():
    assert len(README.read_text().splitlines()) <= 350
