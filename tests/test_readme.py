"""The README is part of the product: its settings table and commands must match the code."""

from pathlib import Path

from quart_chat.settings import DOCUMENTED

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    for name, default, _ in DOCUMENTED:
        assert f"| `{name}` | {default} |" in README, name


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/serve.sh" in README and "./scripts/test.sh" in README
    assert (ROOT / "scripts/serve.sh").exists() and (ROOT / "scripts/test.sh").exists()
    assert "exec bash scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_screenshots_shown_in_the_readme_exist() -> None:
    for line in README.splitlines():
        if line.startswith("![") and "](" in line:
            assert (ROOT / line.split("](", 1)[1].rstrip(")")).exists(), line
