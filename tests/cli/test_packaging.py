"""pyproject.toml: the dependencies are requirements.txt's pins; each console script names a callable; the layout holds."""

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


def test_layout_has_no_cycle_no_long_module_and_a_core_that_imports_no_layer_above() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_layout.py")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "0 fault(s)" in result.stdout, result.stdout


def test_layers_go_core_features_ui_cli_then_entry_points() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_layout", ROOT / "scripts" / "check_layout.py")
    check_layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_layout)
    modules = (
        "fer.images",
        "fer.video.io",
        "fer.bench.latency",
        "fer.ui.blocks",
        "fer.cli.bench",
        "fer.bench.__main__",
    )
    assert [check_layout.layer(module) for module in modules] == [0, 1, 1, 2, 3, 4]
