"""pyproject.toml: the dependencies are requirements.txt's pins; each console script names a callable."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_dependencies_are_the_pinned_requirements() -> None:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert PROJECT["dependencies"] == [line for line in lines if line and not line.startswith("#")]


def test_console_scripts_name_callables() -> None:
    assert set(PROJECT["scripts"]) == {"fer", "fer-live", "fer-train"}
    for target in PROJECT["scripts"].values():
        module, name = target.split(":")
        assert callable(getattr(importlib.import_module(module), name)), target
