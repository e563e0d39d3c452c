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


def test_the_layer_ships_bytecode_that_a_read_only_lambda_uses_as_is(tmp_path: Path) -> None:
    # Given the layer's mixcore, compiled as `sam build` compiles it
    layer = tmp_path / "python"
    for step in ("runtime-package", "bytecode"):
        subprocess.run(["make", "-s", "-C", str(REPO / "src"), step, f"ARTIFACTS_DIR={tmp_path}",
                        f"PYTHON={sys.executable}"], check=True)
    modules = list((layer / "mixcore").rglob("*.py"))
    tag = sys.implementation.cache_tag
    assert all((m.parent / "__pycache__" / f"{m.stem}.{tag}.pyc").is_file() for m in modules)
    # When the zip round trip changes every source's mtime, and a source no longer matches its bytecode
    changed = layer / "mixcore" / "errors.py"
    changed.write_text(changed.read_text() + "\nraise SystemExit('compiled again from source')\n")
    for module in modules:
        os.utime(module, (0, 0))
    # Then the interpreter still runs the shipped bytecode, on a file system it cannot write to (-B)
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import mixcore.errors, mixcore.api.chat"
    result = subprocess.run([sys.executable, "-B", "-c", probe, str(layer)], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": "", "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
