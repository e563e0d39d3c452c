"""The Lambda layer: its requirements match the package's, and it ships runtime code only."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def test_layer_requirements_match_pyproject() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (REPO / "src" / "requirements.txt").read_text().splitlines()
    layer = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(layer) == sorted(declared)


def test_the_layer_ships_only_runtime_code_and_it_imports_alone(tmp_path: Path) -> None:
    # Given the layer's mixcore as `sam build` lays it out (the Makefile's runtime-package step)
    subprocess.run(["make", "-s", "-C", str(REPO / "src"), "runtime-package", f"ARTIFACTS_DIR={tmp_path}"],
                   check=True)
    shipped = {str(p.relative_to(tmp_path / "python")) for p in (tmp_path / "python").rglob("*.py")}
    # Then the laptop-only code is not in it
    assert "mixcore/cli.py" not in shipped
    assert not any(name.startswith("mixcore/local/") for name in shipped)
    # (the catalog builder ships: the indexer rebuilds the catalog from the price tables it fetches)
    assert {"mixcore/api/chat.py", "mixcore/mixes/gateway.py", "mixcore/catalog/build.py"} <= shipped
    # And every function's entry point imports from it (a laptop-only import would fail here)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import mixcore;"
             " assert mixcore.__file__.startswith(sys.argv[1]);"
             " import mixcore.api.chat, mixcore.api.catalog, mixcore.api.authorizer, mixcore.leaderboards.service")
    subprocess.run([sys.executable, "-c", probe, str(tmp_path / "python")], check=True,
                   env={**os.environ, "PYTHONPATH": "", "AWS_DEFAULT_REGION": "us-east-1"})
