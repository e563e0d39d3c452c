"""README.md's commands work as written: every `mixcore …` line in its code blocks is a command the CLI parses,
and the README says how `mixcore` and `sam` get on the PATH before it first uses them bare."""

from __future__ import annotations

import re
import shlex

import pytest

from mixcore.cli import build_parser
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
CODE_LINES = [line.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.DOTALL)
              for line in block.splitlines()]
MIXCORE_LINES = sorted({line for line in CODE_LINES if re.match(r"^(cat .*\| )?(\.venv/bin/)?mixcore ", line)})


def command_words(line: str) -> list[str]:
    words = shlex.split(line.split(" | ", 1)[-1], comments=True)
    return words[1:]  # without `mixcore`


def test_the_readme_shows_mixcore_commands() -> None:
    assert len(MIXCORE_LINES) >= 10  # the check below means something


@pytest.mark.parametrize("line", MIXCORE_LINES)
def test_every_mixcore_command_in_the_readme_parses(line: str) -> None:
    words = [w.replace("<", "").replace(">", "") for w in command_words(line)]
    build_parser().parse_args(words)  # argparse exits (SystemExit) on a command or option that does not exist


def test_the_path_is_set_up_before_the_first_bare_command() -> None:
    first_bare = min(README.index(f"\n{line}") for line in MIXCORE_LINES if line.startswith("mixcore "))
    assert -1 < README.index("source .venv/bin/activate") < first_bare
    makefile = (REPO / "Makefile").read_text()
    assert "bin/sam\" $(VENV)/bin/sam" in makefile  # `sam` is linked into .venv/bin
