"""The README is part of the product: its settings table and commands must match the code."""

from pathlib import Path

from quart_chat.settings import readme_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_readme_settings_table_is_the_declared_one() -> None:
    """Regenerate it with ``python -m quart_chat.settings`` when a declaration changes."""
    start = README.index("| variable | default | what it does |")
    end = README.index("\n\n", start)
    assert README[start:end] == readme_table()


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/serve.sh" in README and "./scripts/test.sh" in README
    assert (ROOT / "scripts/serve.sh").exists() and (ROOT / "scripts/test.sh").exists()
    assert "exec bash scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_screenshots_shown_in_the_readme_exist() -> None:
    for line in README.splitlines():
        if line.startswith("![") and "](" in line:
            assert (ROOT / line.split("](", 1)[1].rstrip(")")).exists(), line
