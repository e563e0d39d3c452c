"""Every real fixture parses; expected counts and leaders are read from the files themselves or their README."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from mixcore.leaderboards import bigcodebench, lmsys, seal
from mixcore.leaderboards.models import Document, FormatError, NotARanking, Ranking
from tests.conftest import FIXTURES

BOARDS = FIXTURES / "leaderboards"


def doc(path: Path, data: bytes | None = None) -> Document:
    return Document(origin=str(path), data=path.read_bytes() if data is None else data)


def by_category(rankings: list[Ranking]) -> dict[str, Ranking]:
    return {r.category: r for r in rankings}


@pytest.mark.parametrize(("file", "suffix"), [("arena-catalog_leaderboard-text-style-control_2025-12-17.json", ""),
                                              ("arena-catalog_leaderboard-text_2025-12-11.json", "-no-style-control")])
def test_arena_catalog_text_every_category(file: str, suffix: str) -> None:
    path = BOARDS / "lmsys" / file
    raw = json.loads(path.read_text())
    rankings = by_category(lmsys.parse(doc(path)))
    assert len(rankings) == len(raw) == 29
    for source_key, category in [("full", "overall"), ("coding", "coding"), ("hard_6", "hard-prompts"),
                                 ("if", "instruction-following"), ("math", "math"), ("chinese", "chinese"),
                                 ("industry_software_and_it_services", "industry-software-and-it-services")]:
        ranking = rankings[category + suffix]
        models = raw[source_key]
        assert len(ranking.entries) == len(models)
        leader = max(models, key=lambda m: models[m]["rating"])
        assert ranking.entries[0].rank == 1
        assert leader in [e.name for e in ranking.entries if e.rank == 1]
        # LMArena's rank: 1 + models whose lower bound beats this model's upper bound.
        for entry in ranking.entries[:5]:
            upper = models[entry.name]["rating_q975"]
            assert entry.rank == 1 + sum(1 for m in models.values() if m["rating_q025"] > upper)


def test_arena_catalog_style_control_leaders_from_the_data() -> None:
    path = BOARDS / "lmsys" / "arena-catalog_leaderboard-text-style-control_2025-12-17.json"
    rankings = by_category(lmsys.parse(doc(path)))
    assert rankings["overall"].entries[0].name == "gemini-3-pro"
    assert rankings["coding"].entries[0].name == "claude-opus-4-5-20251101-thinking-32k"


def test_arena_catalog_vision_and_image() -> None:
    vision = by_category(lmsys.parse(doc(BOARDS / "lmsys" /
                                         "arena-catalog_leaderboard-vision-style-control_2025-12-11.json")))
    assert set(vision) == {"vision", "vision-english", "vision-chinese", "vision-captioning",
                           "vision-creative-writing-vision", "vision-diagram", "vision-entity-recognition",
                           "vision-homework", "vision-humor", "vision-ocr"}
    image = by_category(lmsys.parse(doc(BOARDS / "lmsys" / "arena-catalog_leaderboard-image_2025-12-11.json")))
    names = [e.name for e in image["text-to-image"].entries]
    assert "gemini-3-pro-image-preview (nano-banana-pro)" in names


def test_fboulnois_2024_csv_uses_the_published_rank() -> None:
    path = BOARDS / "lmsys" / "fboulnois_lmsys_2024-11-21.csv"
    rows = list(csv.DictReader(path.open()))
    [ranking] = lmsys.parse(doc(path))
    assert ranking.category == "overall-no-style-control" and ranking.data_date == "2024-11-21"
    assert len(ranking.entries) == len(rows) == 161
    first = ranking.entries[0]
    assert (first.name, first.score, first.votes) == ("ChatGPT-4o-latest (2024-11-20)", 1361, 8513)
    assert (first.ci_lower, first.ci_upper) == (1355, 1367)  # "+6/-6"
    # Ties share a rank as the source shows it.
    ranks = [int(r["rank"]) for r in rows]
    assert len(set(ranks)) < len(ranks)
    assert [e.rank for e in ranking.entries] == sorted(ranks)


def test_fboulnois_2025_csv_takes_ub_rank_from_second_column() -> None:
    path = BOARDS / "lmsys" / "fboulnois_lmarena_text_2025-08-04.csv"
    rows = list(csv.DictReader(path.open()))
    [ranking] = lmsys.parse(doc(path))
    assert len(ranking.entries) == 266
    assert [e.rank for e in ranking.entries] == sorted(int(r["rank_stylectrl"]) for r in rows)
    assert ranking.entries[0].name == "Gemini-2.5-Pro"
    [vision] = lmsys.parse(doc(BOARDS / "lmsys" / "fboulnois_lmarena_vision_2025-08-04.csv"))
    assert vision.category == "vision-no-style-control" and len(vision.entries) == 86


def test_hfspace_2023_elo_table_and_2025_metadata() -> None:
    path = BOARDS / "lmsys" / "hfspace_leaderboard_table_20230717.csv"
    rows = [r for r in csv.DictReader(path.open()) if r["Arena Elo rating"] != "-"]
    [ranking] = lmsys.parse(doc(path))
    assert len(ranking.entries) == len(rows)
    assert (ranking.entries[0].name, ranking.entries[0].score) == ("GPT-4", 1211)
    assert ranking.data_date == "2023-07-17"
    with pytest.raises(NotARanking):
        lmsys.parse(doc(BOARDS / "lmsys" / "hfspace_leaderboard_table_20250511.csv"))
    with pytest.raises(NotARanking):
        lmsys.parse(doc(BOARDS / "lmsys" / "arena-catalog_scatterplot-data.json"))


def test_lmarena_overview_html_ranks_per_category() -> None:
    rankings = by_category(lmsys.parse(doc(BOARDS / "lmsys" / "lmarena_leaderboard_overview_2025-07-24.html")))
    assert set(rankings) == {"overall", "hard-prompts", "coding", "math", "creative-writing",
                             "instruction-following", "longer-query", "multi-turn"}
    overall = rankings["overall"]
    assert len(overall.entries) == 217 and not overall.scored and overall.data_date == "2025-07-24"
    assert overall.entries[0].name == "gemini-2.5-pro"
    # The key comes from <span title>, not the text with the organisation's logo in front of it.
    names = {e.name for e in overall.entries}
    assert "stablelm-tuned-alpha-7b" in names and "kimi-k2-0711-preview" in names
    coding = rankings["coding"]
    assert [e.name for e in coding.entries if e.rank == 1][:3] == ["gemini-2.5-pro", "o3-2025-04-16",
                                                                   "chatgpt-4o-latest-20250326"]


def test_seal_2024_hub_tables() -> None:
    rankings = by_category(seal.parse(doc(BOARDS / "seal" / "scale_leaderboard_2024-08-07.html")))
    assert {c: len(r.entries) for c, r in rankings.items()} == {
        "adversarial-robustness": 8, "coding": 13, "instruction-following": 13, "math": 13, "spanish": 11}
    robustness = rankings["adversarial-robustness"]
    assert not robustness.higher_is_better
    assert (robustness.entries[0].name, robustness.entries[0].score) == ("Gemini 1.5 Pro (May 2024)", 8)
    coding = rankings["coding"].entries[0]
    assert (coding.rank, coding.name, coding.key, coding.score) == (
        1, "Claude 3.5 Sonnet", "claude-3-5-sonnet-20240620", 1165)
    assert coding.flags == ["note"] and (coding.ci_lower, coding.ci_upper) == (1132, 1198)


@pytest.mark.parametrize(("file", "counts"), [
    ("results.json", {"complete": 153, "instruct": 126}),
    ("results-hard.json", None),
    ("results_2024-07-16.json", None),
    ("results_2024-06-04.json", None),
])
def test_bigcodebench_every_schema(file: str, counts: dict[str, int] | None) -> None:
    path = BOARDS / "bigcodebench" / file
    raw = json.loads(path.read_text())
    rankings = by_category(bigcodebench.parse(doc(path)))
    prefix = "hard-" if "hard" in file else ""
    for split in ("complete", "instruct"):
        scored = {n: v["pass@1"][split] for n, v in raw.items() if v["pass@1"].get(split) is not None}
        ranking = rankings[prefix + split]
        assert len(ranking.entries) == len(scored)
        assert ranking.entries[0].score == max(scored.values())
        assert ranking.entries[0].name in [n for n, s in scored.items() if s == max(scored.values())]
    if counts:
        assert {c: len(r.entries) for c, r in rankings.items()} == counts


def test_bigcodebench_2024_06_has_the_old_name() -> None:
    rankings = by_category(bigcodebench.parse(doc(BOARDS / "bigcodebench" / "results_2024-06-04.json")))
    assert rankings["complete"].entries[0].name == "GPT-4o"
    assert rankings["complete"].data_date == "2024-06-04"


# Variants of the real files: broken ones are refused, reordered ones parse to the same ranking.

@pytest.mark.parametrize("path", [BOARDS / "lmsys" / "arena-catalog_leaderboard-text_2025-12-11.json",
                                  BOARDS / "bigcodebench" / "results.json"])
def test_truncated_json_is_refused(path: Path) -> None:
    parser = lmsys.parse if "lmsys" in str(path) else bigcodebench.parse
    data = path.read_bytes()
    with pytest.raises(FormatError):
        parser(doc(path, data[: len(data) // 2]))


@pytest.mark.parametrize(("parser", "path"), [
    (lmsys.parse, BOARDS / "lmsys" / "lmarena_leaderboard_overview_2025-07-24.html"),
    (seal.parse, BOARDS / "seal" / "scale_leaderboard_2024-08-07.html"),
    (bigcodebench.parse, BOARDS / "bigcodebench" / "results.json"),
    (lmsys.parse, BOARDS / "lmsys" / "fboulnois_lmsys_2024-11-21.csv"),
])
def test_empty_document_is_refused(parser, path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FormatError):
        parser(doc(path, b""))


def test_changed_html_is_refused() -> None:
    path = BOARDS / "lmsys" / "lmarena_leaderboard_overview_2025-07-24.html"
    renamed = path.read_text().replace(">Overall<", ">Total<").replace(">Coding<", ">Code<")
    renamed = renamed.replace(">Hard Prompts<", "><").replace(">Math<", "><").replace(">Creative Writing<", "><")
    renamed = renamed.replace(">Instruction Following<", "><").replace(">Longer Query<", "><")
    renamed = renamed.replace(">Multi-Turn<", "><")
    with pytest.raises(FormatError):
        lmsys.parse(doc(path, renamed.encode()))
    seal_path = BOARDS / "seal" / "scale_leaderboard_2024-08-07.html"
    without_tables = seal_path.read_text().replace("<table", "<div").replace("</table>", "</div>")
    with pytest.raises(FormatError):
        seal.parse(doc(seal_path, without_tables.encode()))


def test_reordered_json_and_csv_parse_to_the_same_ranking() -> None:
    path = BOARDS / "lmsys" / "arena-catalog_leaderboard-vision_2025-12-11.json"
    raw = json.loads(path.read_text())
    shuffled = {cat: dict(random.Random(7).sample(list(models.items()), len(models))) for cat, models in raw.items()}
    original = by_category(lmsys.parse(doc(path)))
    reordered = by_category(lmsys.parse(doc(path, json.dumps(shuffled).encode())))
    assert {c: r.content_hash for c, r in original.items()} == {c: r.content_hash for c, r in reordered.items()}
    csv_path = BOARDS / "lmsys" / "fboulnois_lmsys_2024-11-21.csv"
    header, *rows = csv_path.read_text().splitlines()
    random.Random(3).shuffle(rows)
    [again] = lmsys.parse(doc(csv_path, "\n".join([header, *rows]).encode()))
    [first] = lmsys.parse(doc(csv_path))
    assert again.content_hash == first.content_hash


def test_deeply_nested_json_is_refused_quickly() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for parser in (lmsys.parse, bigcodebench.parse):
        with pytest.raises(FormatError):
            parser(Document(origin="nested.json", data=nested))
