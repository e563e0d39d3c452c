"""Formats with no stored capture, built here from their description in tests/fixtures/leaderboards/README.md.

These pages are synthetic (no real copy exists): they check that the parser reads the documented
layout, with names and numbers chosen here, not the parser's own output.
"""

from __future__ import annotations

import json

from mixcore.leaderboards import lmsys, seal
from mixcore.leaderboards.models import Document


def row(name: str, category: str, rating: float, lower: float, upper: float, rank: int,
        votes: int) -> dict[str, object]:
    return {"row_idx": 0, "truncated_cells": [], "row": {
        "model_name": name, "organization": "Org", "license": "Proprietary", "rating": rating,
        "rating_lower": lower, "rating_upper": upper, "variance": 1.0, "vote_count": votes, "rank": rank,
        "category": category, "leaderboard_publish_date": "2026-11-20"}}


def test_hf_dataset_rows_split_by_category() -> None:
    payload = {"features": [], "num_rows_total": 4, "partial": False, "rows": [
        row("model-a", "overall", 1500.0, 1495.0, 1505.0, 1, 9000),
        row("model-b", "overall", 1480.0, 1470.0, 1490.0, 2, 5000),
        row("model-b", "coding", 1510.0, 1500.0, 1520.0, 1, 2000),
        row("model-a", "coding", 1490.0, 1485.0, 1495.0, 2, 3000)]}
    origin = ("https://datasets-server.huggingface.co/rows?dataset=lmarena-ai%2Fleaderboard-dataset"
              "&config=text_style_control&split=latest#config=text_style_control")
    rankings = {r.category: r for r in lmsys.parse(Document(origin=origin, data=json.dumps(payload).encode()))}
    assert set(rankings) == {"overall", "coding"}
    assert [e.name for e in rankings["coding"].entries] == ["model-b", "model-a"]
    assert rankings["overall"].entries[0].votes == 9000
    assert rankings["overall"].data_date == "2026-11-20"
    plain_origin = origin.replace("text_style_control", "text")
    plain = lmsys.parse(Document(origin=plain_origin, data=json.dumps(payload).encode()))
    assert {r.category for r in plain} == {"overall-no-style-control", "coding-no-style-control"}


def flight_page(rows: list[dict[str, object]]) -> bytes:
    chunk = "1:" + json.dumps({"leaderboard": {"rows": rows}})
    return ("<html><body><script>self.__next_f.push([1," + json.dumps(chunk) + "])</script></body></html>").encode()


def test_lmarena_app_router_page() -> None:
    rows = [{"rank": 1, "rankUpper": 1, "rankLower": 2, "modelDisplayName": "alpha-pro", "rating": 1510.2,
             "ratingUpper": 1516.0, "ratingLower": 1504.0, "votes": 12000, "modelOrganization": "Alpha",
             "modelUrl": "https://example.com", "license": "Proprietary"},
            {"rank": 2, "rankUpper": 1, "rankLower": 3, "modelDisplayName": "beta-max", "rating": 1502.0,
             "ratingUpper": 1509.0, "ratingLower": 1495.0, "votes": 8000, "modelOrganization": "Beta",
             "modelUrl": "https://example.com", "license": "Proprietary"}]
    [ranking] = lmsys.parse(Document(origin="https://lmarena.ai/leaderboard/text/coding", data=flight_page(rows)))
    assert ranking.category == "coding"
    assert [(e.rank, e.name, e.votes) for e in ranking.entries] == [(1, "alpha-pro", 12000), (2, "beta-max", 8000)]


def test_seal_2025_next_data_entries() -> None:
    data = {"props": {"pageProps": {"entries": [{"model": "model-x", "score": 25.3},
                                                {"model": "model-y", "score": 31.9},
                                                {"model": "model-z", "score": 18.0}]}},
            "page": "/leaderboard/[slug]"}
    html = f'<html><script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script></html>'
    [ranking] = seal.parse(Document(origin="https://scale.com/leaderboard/humanitys_last_exam", data=html.encode()))
    assert ranking.category == "humanitys-last-exam"
    assert [(e.rank, e.name, e.score) for e in ranking.entries] == [(1, "model-y", 31.9), (2, "model-x", 25.3),
                                                                    (3, "model-z", 18.0)]


def test_seal_2026_streamed_entries_and_rendered_rows() -> None:
    chunk = "5:" + json.dumps({"entries": [{"model": "m-one", "score": 58.2}, {"model": "m-two", "score": 61.0}]})
    html = "<html><script>self.__next_f.push([1," + json.dumps(chunk) + "])</script></html>"
    [ranking] = seal.parse(Document(origin="https://labs.scale.com/leaderboard/swe_bench_pro_public",
                                    data=html.encode()))
    assert ranking.category == "swe-bench-pro-public"
    assert [e.name for e in ranking.entries] == ["m-two", "m-one"]
    rendered = ('<html><div><p data-model-name="true">m-a</p><span class="text-ink">58.2</span></div>'
                '<div><p data-model-name="true">m-b</p><span class="text-ink">49.0</span></div></html>')
    [rli] = seal.parse(Document(origin="https://labs.scale.com/leaderboard/rli", data=rendered.encode()))
    assert [(e.name, e.score) for e in rli.entries] == [("m-a", 58.2), ("m-b", 49.0)]
