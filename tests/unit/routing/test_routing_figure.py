"""docs/routing.png (drawn by docs/render_routing.py) shows the figures this code computes today."""

from __future__ import annotations

import json

import pytest

from mixcore.routing.datasets import format_failures, from_routellm
from mixcore.routing.evaluation import apgr, length_scores, oracle_scores
from tests.conftest import FIXTURES, REPO, png_text


def test_the_committed_routing_picture_is_drawn_from_todays_evaluation_and_shown_in_the_readme() -> None:
    drawn = json.loads(png_text((REPO / "docs/routing.png").read_bytes())["APGR"])
    mmlu = [e for e in from_routellm(FIXTURES / "routing/routellm") if e.benchmark == "mmlu"]
    clean = [e for e in mmlu if e.group not in format_failures(mmlu)]
    stale = "docs/routing.png is older than the evaluation: run `make routing-figure`"
    for panel, rows in (("mmlu", mmlu), ("mmlu-clean", clean)):
        assert drawn[panel]["length"] == pytest.approx(apgr(length_scores(rows), rows), abs=1e-4), stale
        assert drawn[panel]["oracle"] == pytest.approx(apgr(oracle_scores(rows), rows), abs=1e-4), stale
    assert set(drawn["gsm8k"]) >= {"cascade (stand-in verifier)", "length", "ngram, other benchmark"}
    assert "![" in (readme := (REPO / "README.md").read_text()) and "(docs/routing.png)" in readme
