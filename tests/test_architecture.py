"""The dependency rules between our packages ([tool.importlinter] in
pyproject.toml) hold, and an import that breaks one makes the check fail
naming that rule. No stack: import-linter reads the source, imports nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kefu", "actions", "connectors", "bot")
pytestmark = pytest.mark.tool

LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` in `project`, on that folder's copy of our packages."""
    env = {
        **os.environ,
        # The folder's packages come before the editable install of this checkout.
        "PYTHONPATH": str(project),
        # Rich wraps the report at the terminal's width; one contract, one line.
        "COLUMNS": "400",
    }
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-logo", "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_sources(target: Path) -> None:
    """The Python files of our packages and the contracts; data files play no part."""
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            dest = target / source.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    shutil.copyfile(ROOT / "pyproject.toml", target / "pyproject.toml")


def test_the_dependency_rules_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("kefu/core/models.py", "import kefu.desk.app", "kefu.core imports only kefu.text"),
        (
            "kefu/reminders/plan.py",
            "from connectors import rest",
            "actions, connectors, kefu.desk and kefu.reminders never import each other",
        ),
    ],
)
def test_a_forbidden_import_fails_the_check_and_names_the_rule(tmp_path, module, line, broken):
    copy_sources(tmp_path)
    with open(tmp_path / module, "a", encoding="utf-8") as source:
        source.write(f"\n{line}  # the forbidden import under test\n")

    result = lint_imports(tmp_path)

    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert f"{broken} BROKEN" in report, report
