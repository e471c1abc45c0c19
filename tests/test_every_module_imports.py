"""The fast tier reaches every module: each one under kefu/, connectors/,
actions/ and bot/components/ imports in this process (an import error, or a
module no test loads, would otherwise only show in the end-to-end tier)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from tests.support.stack import ROOT

PACKAGES = ("kefu", "connectors", "actions", "bot.components")


def module_names():
    for package in PACKAGES:
        path = ROOT.joinpath(*package.split("."))
        yield package
        for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
            yield info.name


def test_every_package_has_modules():
    names = set(module_names())
    for package in PACKAGES:
        assert any(n.startswith(f"{package}.") for n in names), package


@pytest.mark.parametrize("name", sorted(set(module_names())))
def test_module_imports(name):
    if name.endswith(".__main__"):  # importing it runs the command: compile it, import what it imports
        source = ROOT.joinpath(*name.split(".")).with_suffix(".py")
        compile(source.read_text(encoding="utf-8"), str(source), "exec")
        importlib.import_module(name.rsplit(".", 1)[0])
        return
    importlib.import_module(name)
