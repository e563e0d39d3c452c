"""Scale SEAL leaderboards: the 2024 hub page tables, 2025 `__NEXT_DATA__` JSON, 2026 streamed pages."""

from __future__ import annotations

import json
import re
from typing import Any

from bs4 import BeautifulSoup

from mixcore.leaderboards.lmsys import _flight_text, objects_with_key
from mixcore.leaderboards.models import Document, Entry, FormatError, Ranking, competition_ranks, slug

SOURCE = "seal"
# Boards where fewer is better (a count of safety violations, an error rate…).
LOWER_IS_BETTER = {"adversarial-robustness", "mask"}
SLUGS = ["coding", "instruction_following", "math", "spanish", "adversarial_robustness", "humanitys_last_exam",
         "swe_bench_pro_public", "swe_bench_pro_commercial", "tool_use_enterprise", "multichallenge",
         "enigma_eval", "vista", "multinrc", "rli"]
PAGE_URLS = ["https://labs.scale.com/leaderboard/{slug}", "https://scale.com/leaderboard/{slug}"]
HUB_URLS = ["https://labs.scale.com/leaderboard", "https://scale.com/leaderboard"]
RANK_BADGE = re.compile(r"^(\d+)(st|nd|rd|th)?\b")


def _ranking(doc: Document, category: str, entries: list[Entry], fmt: str, metric: str) -> Ranking:
    return Ranking(source=SOURCE, category=category, entries=entries, metric=metric,
                   higher_is_better=category not in LOWER_IS_BETTER, data_date=doc.date_from_origin(),
                   fetched_at=doc.fetched_at, origin=doc.origin, format=fmt).with_hash()


def _number(text: str) -> float | None:
    found = re.search(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    return float(found.group(0)) if found else None


def parse_hub_tables(doc: Document, soup: BeautifulSoup) -> list[Ranking]:
    rankings = []
    for block in soup.select("div.flex.flex-col.gap-4"):
        table, title = block.find("table"), block.find("span")
        if table is None or title is None:
            continue
        category = slug(title.get_text(strip=True))
        metric = [th.get_text(" ", strip=True) for th in table.find_all("th")][1:2] or ["score"]
        entries: list[Entry] = []
        for row in (table.find("tbody") or table).find_all("tr"):
            cells = row.find_all("td")
            if len(cells) < 2:
                continue
            link = cells[0].find("a")
            name = link.get_text(" ", strip=True) if link else cells[0].get_text(" ", strip=True)
            badge_text = cells[0].get_text(" ", strip=True)
            name_at = badge_text.find(name) if name else -1
            badge = RANK_BADGE.match(badge_text[:name_at] if name_at > 0 else badge_text)
            tooltip = str(link.get("data-tooltip-content") or "") if link else ""
            key = tooltip.split(" ", 1)[0].strip() or None
            plus = minus = None
            if len(cells) > 2:
                ci = re.match(r"\s*\+?([\d.]+)\s*/\s*-?([\d.]+)", cells[2].get_text(strip=True))
                if ci:
                    plus, minus = float(ci.group(1)), float(ci.group(2))
            score = _number(cells[1].get_text(strip=True))
            entries.append(Entry(
                rank=int(badge.group(1)) if badge else len(entries) + 1, name=name, key=key, score=score,
                ci_upper=score + plus if score is not None and plus is not None else None,
                ci_lower=score - minus if score is not None and minus is not None else None,
                flags=["note"] if "*" in tooltip else []))
        if entries:
            rankings.append(_ranking(doc, category, entries, "seal-hub-html-2024", metric[0].lower()))
    if not rankings:
        raise FormatError("no SEAL tables in the page")
    return rankings


def _category_from_origin(doc: Document) -> str:
    path = doc.origin.rstrip("/").rsplit("/leaderboard", 1)[-1].strip("/")
    return slug(path.split("?")[0].rsplit("/", 1)[-1] or "overall")


def _entries_from_objects(rows: list[dict[str, Any]], higher_is_better: bool) -> list[Entry]:
    clean = []
    for row in rows:
        name = row.get("model") or row.get("modelName") or row.get("name")
        score = row.get("score")
        if isinstance(score, dict):
            score = score.get("value")
        if not name or not isinstance(score, int | float | str) or _number(str(score)) is None:
            continue
        clean.append((str(name), float(_number(str(score)) or 0.0), row))
    clean.sort(key=lambda item: -item[1] if higher_is_better else item[1])
    ranks = competition_ranks([s for _, s, _ in clean])
    entries = []
    for (name, score, row), rank in zip(clean, ranks, strict=True):
        given = row.get("rank")
        entries.append(Entry(rank=int(given) if isinstance(given, int) else rank, name=name, score=score,
                             key=row.get("modelId") or row.get("model_id"),
                             organization=row.get("company") or row.get("organization"),
                             flags=[f for f in ("deprecated", "preliminary") if row.get(f)]))
    return entries


def parse_next_data(doc: Document, html: str) -> list[Ranking]:
    match = re.search(r'<script id="__NEXT_DATA__"[^>]*>(.*?)</script>', html, re.S)
    if match is None:
        raise FormatError("no __NEXT_DATA__")
    try:
        data = json.loads(match.group(1))
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"invalid __NEXT_DATA__: {exc}") from exc
    props = (data.get("props") or {}).get("pageProps") or {}
    rows = props.get("entries")
    if not isinstance(rows, list) or not rows:
        raise FormatError("__NEXT_DATA__ has no pageProps.entries")
    category = _category_from_origin(doc)
    entries = _entries_from_objects(rows, category not in LOWER_IS_BETTER)
    return [_ranking(doc, category, entries, "seal-next-data-2025", "score")]


def parse_streamed(doc: Document, html: str) -> list[Ranking]:
    category = _category_from_origin(doc)
    higher = category not in LOWER_IS_BETTER
    text = _flight_text(html)
    rows = [row for row in objects_with_key(text, "score") if row.get("model") or row.get("modelName")]
    if not rows:
        soup = BeautifulSoup(html, "lxml")
        names = soup.select('p[data-model-name="true"]')
        scores = soup.select("span.text-ink")
        rows = [{"model": n.get_text(strip=True), "score": s.get_text(strip=True)}
                for n, s in zip(names, scores, strict=False)]
    if not rows:
        raise FormatError("streamed SEAL page without entries")
    return [_ranking(doc, category, _entries_from_objects(rows, higher), "seal-streamed-2026", "score")]


def parse(doc: Document) -> list[Ranking]:
    html = doc.text()
    if "__NEXT_DATA__" in html and '"entries"' in html:
        return parse_next_data(doc, html)
    if "self.__next_f.push" in html or 'data-model-name="true"' in html:
        return parse_streamed(doc, html)
    if "<table" in html:
        return parse_hub_tables(doc, BeautifulSoup(html, "lxml"))
    raise FormatError("not a SEAL leaderboard page")


def urls() -> list[list[str]]:
    return [[template.format(slug=s) for s in SLUGS] for template in PAGE_URLS] + [HUB_URLS]
