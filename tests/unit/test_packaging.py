"""The Lambda layer's requirements match the package's declared runtime dependencies."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_layer_requirements_match_pyproject() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (REPO / "src" / "requirements.txt").read_text().splitlines()
    layer = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(layer) == sorted(declared)
