"""LMSYS Chatbot Arena / LMArena: every published format, detected by content.

Formats: LMArena's HF dataset rows (datasets-server JSON), the `arena-catalog` JSON files,
the lmarena.ai App Router pages (`self.__next_f.push` payloads), the rendered overview table,
and the CSV tables (fboulnois exports of the Gradio app, the HF Space metadata CSV of 2023).
Which board a file is (text or vision, with or without style control) is in its name, as it is
in the URL it was fetched from.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
from typing import Any

import lxml.html
from lxml import etree

from mixcore.leaderboards.models import (
    Document,
    Entry,
    FormatError,
    NotARanking,
    Ranking,
    competition_ranks,
)

SOURCE = "lmsys"
HF_ROWS = "https://datasets-server.huggingface.co/rows?dataset=lmarena-ai%2Fleaderboard-dataset&config={config}&split=latest&offset={offset}&length=100"
ARENA_CATALOG = "https://raw.githubusercontent.com/lmarena/arena-catalog/main/data/leaderboard-{board}.json"
LMARENA_PAGE = "https://lmarena.ai/leaderboard/{path}"
BOARDS = ["text-style-control", "text", "vision-style-control", "vision"]
PAGE_PATHS = ["text/overall", "text/coding", "text/hard-prompts", "text/math", "text/creative-writing",
              "text/instruction-following", "text/longer-query", "text/multi-turn", "vision"]

# Category keys as the sources spell them → Mixcore's category slugs.
CATEGORY_NAMES = {
    "full": "overall", "overall": "overall", "hard_6": "hard-prompts", "hard_prompts": "hard-prompts",
    "hard_english_6": "hard-prompts-english", "if": "instruction-following",
    "instruction_following": "instruction-following", "long_user": "longer-query", "longer_query": "longer-query",
    "multiturn": "multi-turn", "multi_turn": "multi-turn", "no_tie": "exclude-ties", "no_short": "exclude-short",
    "no_refusal": "exclude-refusal", "is_preset_generation": "preset", "not_preset_generation": "not-preset",
}
OVERVIEW_COLUMNS = {"Overall": "overall", "Hard Prompts": "hard-prompts", "Coding": "coding", "Math": "math",
                    "Creative Writing": "creative-writing", "Instruction Following": "instruction-following",
                    "Longer Query": "longer-query", "Multi-Turn": "multi-turn"}


def board_of(origin: str) -> tuple[str, bool]:
    """(arena, style_control) from a file name or URL: ('text'|'vision'|'image', bool)."""
    lowered = origin.lower().rsplit("/", 2)[-2:]
    name = "/".join(lowered)
    arena = "vision" if "vision" in name else "image" if ("image" in name or "text_to_image" in name) else "text"
    style_control = "style" in name or ("leaderboard/" in origin.lower() and "style" not in name)
    return arena, style_control


def category_slug(raw: str, arena: str, style_control: bool) -> str:
    base = CATEGORY_NAMES.get(raw, raw.replace("_", "-").lower())
    if arena == "vision":
        base = "vision" if base == "overall" else f"vision-{base}"
    elif arena == "image":
        base = "text-to-image" if base == "overall" else f"text-to-image-{base}"
    return base if style_control or arena == "image" else f"{base}-no-style-control"


def ub_ranks(lowers: list[float], uppers: list[float]) -> list[int]:
    """LMArena's rank: 1 + the number of models statistically better (lower bound above this upper bound)."""
    ordered = sorted(lowers)
    return [1 + len(ordered) - bisect.bisect_right(ordered, upper) for upper in uppers]


def _ranking(doc: Document, category: str, entries: list[Entry], fmt: str, *, scored: bool = True,
             data_date: str | None = None, metric: str = "arena score") -> Ranking:
    return Ranking(source=SOURCE, category=category, entries=entries, scored=scored, metric=metric,
                   data_date=data_date or doc.date_from_origin(), fetched_at=doc.fetched_at, origin=doc.origin,
                   format=fmt).with_hash()


def _scored_entries(rows: list[dict[str, Any]]) -> list[Entry]:
    """Rows with name/score/lower/upper → entries in score order with LMArena's UB rank."""
    rows = sorted(rows, key=lambda r: -r["score"])
    have_ci = all(r.get("lower") is not None and r.get("upper") is not None for r in rows)
    ranks = (ub_ranks([r["lower"] for r in rows], [r["upper"] for r in rows]) if have_ci
             else competition_ranks([r["score"] for r in rows]))
    entries = [Entry(rank=int(r.get("rank") or rank), name=r["name"], score=round(r["score"], 3),
                     ci_lower=r.get("lower"), ci_upper=r.get("upper"), votes=r.get("votes"),
                     organization=r.get("organization") or None, flags=r.get("flags") or [])
               for r, rank in zip(rows, ranks, strict=True)]
    # As LMArena lists them: by rank, then by score within a rank (a narrow interval can rank a higher score lower).
    return sorted(entries, key=lambda e: (e.rank, -(e.score or 0.0), e.name))


def parse_arena_catalog(doc: Document, data: dict[str, Any]) -> list[Ranking]:
    arena, style_control = board_of(doc.origin)
    rankings = []
    for raw_category, models in data.items():
        if not isinstance(models, dict):
            raise FormatError(f"category {raw_category!r} is not an object")
        rows = []
        for name, values in models.items():
            if not isinstance(values, dict) or not isinstance(values.get("rating"), int | float):
                raise FormatError(f"{raw_category}/{name} has no numeric rating")
            rows.append({"name": name, "score": float(values["rating"]), "lower": values.get("rating_q025"),
                         "upper": values.get("rating_q975")})
        rankings.append(_ranking(doc, category_slug(raw_category, arena, style_control), _scored_entries(rows),
                                 "arena-catalog-json"))
    return rankings


def parse_hf_rows(doc: Document, data: dict[str, Any]) -> list[Ranking]:
    arena, style_control = board_of(doc.origin.replace("config=", "/"))
    by_category: dict[str, list[dict[str, Any]]] = {}
    dates: dict[str, str] = {}
    for item in data.get("rows", []):
        row = item.get("row", item)
        if row.get("rating") is None:
            continue
        raw = str(row.get("category") or "overall")
        by_category.setdefault(raw, []).append({
            "name": row["model_name"], "score": float(row["rating"]), "lower": row.get("rating_lower"),
            "upper": row.get("rating_upper"), "votes": row.get("vote_count"), "rank": row.get("rank"),
            "organization": row.get("organization")})
        if row.get("leaderboard_publish_date"):
            dates[raw] = max(dates.get(raw, ""), str(row["leaderboard_publish_date"]))
    return [_ranking(doc, category_slug(raw, arena, style_control), _scored_entries(rows), "hf-dataset-rows",
                     data_date=dates.get(raw)) for raw, rows in by_category.items()]


def _ci(text: str) -> tuple[float | None, float | None]:
    found = re.match(r"\s*\+?([\d.]+)\s*/\s*-?([\d.]+)", text or "")
    return (float(found.group(1)), float(found.group(2))) if found else (None, None)


def parse_csv(doc: Document, text: str) -> list[Ranking]:
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    rows = list(reader)
    arena, _ = board_of(doc.origin)
    if "arena_score" in fields:
        ranks = [int(r["rank"]) for r in rows]
        rank_column = "rank"
        # The 2025 exports put row order in `rank` (no ties at all) and the UB rank in `rank_stylectrl`.
        second = [r["rank_stylectrl"] for r in rows if r.get("rank_stylectrl", "").isdigit()]
        if ranks == list(range(1, len(rows) + 1)) and len(second) == len(rows):
            rank_column = "rank_stylectrl"
        entries = []
        for row in rows:
            score = _float(row.get("arena_score"))
            plus, minus = _ci(row.get("95_pct_ci", ""))
            entries.append(Entry(
                rank=int(row[rank_column]), name=row["model"], score=score,
                ci_upper=score + plus if score is not None and plus is not None else None,
                ci_lower=score - minus if score is not None and minus is not None else None,
                votes=int(row["votes"]) if row.get("votes", "").isdigit() else None,
                organization=row.get("organization") or None))
        entries.sort(key=lambda e: (e.rank, -(e.score or 0), e.name))
        return [_ranking(doc, category_slug("full", arena, False), entries, "arena-csv")]
    if "Arena Elo rating" in fields:
        scored = [{"name": r["Model"], "score": s} for r in rows if (s := _float(r["Arena Elo rating"])) is not None]
        return [_ranking(doc, category_slug("full", arena, False), _scored_entries(scored), "hfspace-csv-2023",
                         metric="elo")]
    if "key" in fields and "Model" in fields:
        raise NotARanking("HF Space model metadata table (names, licences, links): no arena scores")
    raise FormatError("CSV without an arena score column")


def parse_overview_html(doc: Document, html: str) -> list[Ranking]:
    # lxml directly: the rendered overview is over 1 MB, and BeautifulSoup's tree costs ten times more here.
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise FormatError(f"unparseable HTML: {exc}") from exc
    tables = tree.xpath("//table")
    if not tables:
        raise FormatError("no table in the page")
    table = tables[0]
    headers = [" ".join(th.text_content().split()) for th in table.xpath(".//th")]
    columns = {i: OVERVIEW_COLUMNS[h] for i, h in enumerate(headers) if h in OVERVIEW_COLUMNS}
    if not columns:
        raise FormatError(f"table headers {headers[:4]} are not the arena overview's")
    per_category: dict[str, list[Entry]] = {c: [] for c in columns.values()}
    for row in table.xpath(".//tbody/tr") or table.xpath(".//tr"):
        cells = row.xpath("./td")
        if len(cells) < len(headers):
            continue
        titled = cells[0].xpath(".//span[@title]")
        name = titled[0].get("title") if titled else " ".join(cells[0].text_content().split())
        images = cells[0].xpath(".//img[@alt]")
        organization = images[0].get("alt") if images else None
        for index, category in columns.items():
            text = cells[index].text_content().strip()
            if text.isdigit():
                per_category[category].append(Entry(rank=int(text), name=name, organization=organization))
    date = re.search(r"date:(\d{4}-\d{2}-\d{2})", html[:300])
    return [_ranking(doc, category, sorted(entries, key=lambda e: e.rank), "lmarena-overview-html", scored=False,
                     data_date=date.group(1) if date else None, metric="rank")
            for category, entries in per_category.items()]


def _flight_text(html: str) -> str:
    """The decoded strings of every `self.__next_f.push([1, "..."])` in an App Router page."""
    parts = []
    for match in re.finditer(r'self\.__next_f\.push\(\[1,\s*("(?:[^"\\]|\\.)*")\]\)', html):
        try:
            parts.append(json.loads(match.group(1)))
        except ValueError:
            continue
    return "".join(parts)


def objects_with_key(text: str, key: str, limit: int = 5000) -> list[dict[str, Any]]:
    """Every JSON object in `text` that has `key`, decoded from the nearest '{' before each occurrence."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for match in re.finditer(re.escape(f'"{key}"'), text):
        start = text.rfind("{", 0, match.start())
        if start < 0:
            continue
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict) and key in value:
            found.append(value)
        if len(found) >= limit:
            break
    return found


def parse_app_router_page(doc: Document, html: str) -> list[Ranking]:
    rows = objects_with_key(_flight_text(html), "modelDisplayName")
    if not rows:
        raise FormatError("App Router page without leaderboard rows")
    arena, _ = board_of(doc.origin)
    path = doc.origin.split("/leaderboard/", 1)[-1].split("?")[0].strip("/")
    raw = path.split("/", 1)[1] if "/" in path else "overall"
    seen: set[str] = set()
    entries = []
    for row in rows:
        name = str(row["modelDisplayName"])
        if name in seen or row.get("rating") is None:
            continue
        seen.add(name)
        entries.append({"name": name, "score": float(row["rating"]), "lower": row.get("ratingLower"),
                        "upper": row.get("ratingUpper"), "votes": row.get("votes"), "rank": row.get("rank"),
                        "organization": row.get("modelOrganization"),
                        "flags": ["preliminary"] if row.get("isPreliminary") or row.get("preliminary") else []})
    return [_ranking(doc, category_slug(raw.replace("-", "_"), arena, True), _scored_entries(entries),
                     "lmarena-app-router")]


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse(doc: Document) -> list[Ranking]:
    """Every ranking in a document, whatever LMSYS/LMArena format it is in."""
    text = doc.text().lstrip("\ufeff \r\n\t")
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"invalid JSON: {exc}") from exc
        if isinstance(data, list):
            raise NotARanking("arena-catalog scatterplot data (names, organisations, prices): no ranking")
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            return parse_hf_rows(doc, data)
        if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
            return parse_arena_catalog(doc, data)
        raise FormatError("JSON in no known LMArena layout")
    if text.startswith("<") or "<html" in text[:2000].lower():
        if "self.__next_f.push" in text and "modelDisplayName" in text:
            return parse_app_router_page(doc, text)
        return parse_overview_html(doc, text)
    if "," in text.split("\n", 1)[0]:
        return parse_csv(doc, text)
    raise FormatError("not JSON, HTML or CSV")


def urls() -> list[list[str]]:
    """Groups of URLs in order of preference: the first group that yields rankings wins."""
    dataset = [HF_ROWS.format(config=config, offset=offset)
               for config in ("text_style_control", "text", "vision_style_control", "vision")
               for offset in range(0, 3000, 100)]
    return [dataset, [ARENA_CATALOG.format(board=b) for b in BOARDS],
            [LMARENA_PAGE.format(path=p) for p in PAGE_PATHS]]
