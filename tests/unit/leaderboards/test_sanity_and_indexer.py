"""Sanity checks and whole indexer runs over the real fixtures, from disk and over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mixcore.leaderboards import bigcodebench, indexer, service, views
from mixcore.leaderboards.fetch import HttpFetcher, LocalFetcher
from mixcore.leaderboards.models import Document, Entry, Ranking
from mixcore.leaderboards.sanity import check, in_future
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES

BOARDS = FIXTURES / "leaderboards"


def ranking(names: list[str], *, date: str = "2026-11-01", scores: bool = True) -> Ranking:
    entries = [Entry(rank=i + 1, name=n, score=(1500.0 - i) if scores else None) for i, n in enumerate(names)]
    return Ranking(source="lmsys", category="overall", entries=entries, data_date=date,
                   fetched_at=f"{date}T00:00:00+00:00", origin="test", format="test").with_hash()


NAMES = [f"model-{i}" for i in range(30)]


def test_sanity_rules() -> None:
    good = ranking(NAMES)
    assert check(good, None).action == "store"
    assert check(good, good.model_dump()).action == "unchanged"
    assert check(ranking(NAMES[:3]), None).action == "reject"  # too few
    assert "no score" in check(ranking(NAMES, scores=False), None).reason
    assert "shrank" in check(ranking(NAMES[:12], date="2026-11-02"), good.model_dump()).reason
    shuffled_top = ranking(NAMES[20:] + NAMES[:20], date="2026-11-03")
    assert "implausibly" in check(shuffled_top, good.model_dump()).reason
    # A year apart, a new top 10 is news, not noise (checked as if it were 2028).
    a_year_later = ranking(NAMES[20:] + NAMES[:20], date="2027-11-01")
    assert check(a_year_later, good.model_dump(), now=datetime(2028, 1, 1, tzinfo=UTC)).action == "store"
    assert check(ranking(NAMES, date="2026-10-01"), good.model_dump()).action == "unchanged"  # older data


def run(store: MemoryStore, fetcher: object, sources: list[str] | None = None) -> indexer.Report:
    return asyncio.run(indexer.refresh(store, fetcher, sources))  # type: ignore[arg-type]


def test_refresh_from_fixtures_fills_the_store_and_is_idempotent() -> None:
    store = MemoryStore()
    first = run(store, LocalFetcher(BOARDS))
    assert first.failed_sources == []
    stored = {(o.source, o.category) for o in first.outcomes if o.action == "stored"}
    assert {("lmsys", "overall"), ("lmsys", "coding"), ("lmsys", "vision"), ("seal", "coding"),
            ("bigcodebench", "hard-instruct")} <= stored
    assert store.get_latest("lmsys", "overall")["entries"][0]["name"] == "gemini-3-pro"  # type: ignore[index]
    # The newest BigCodeBench file wins; the older schema versions stay in history.
    complete = store.history("bigcodebench", "complete", 10)
    assert [len(h["entries"]) for h in complete] == [153, 96, 57]
    second = run(store, LocalFetcher(BOARDS))
    assert second.count("stored") == 0
    assert second.count("unchanged") == first.count("stored")


def test_single_file_and_one_source() -> None:
    store = MemoryStore()
    report = run(store, LocalFetcher(BOARDS / "seal" / "scale_leaderboard_2024-08-07.html"), ["seal"])
    assert report.count("stored") == 5 and report.failed_sources == []


def test_a_bad_copy_never_replaces_the_last_good_ranking(tmp_path: Path) -> None:
    store = MemoryStore()
    run(store, LocalFetcher(BOARDS / "bigcodebench" / "results.json"), ["bigcodebench"])
    good = store.get_latest("bigcodebench", "complete")
    broken = tmp_path / "bigcodebench"
    broken.mkdir()
    raw = (BOARDS / "bigcodebench" / "results.json").read_text()
    (broken / "results.json").write_text(raw[: len(raw) // 3])
    report = run(store, LocalFetcher(broken / "results.json"), ["bigcodebench"])
    assert report.failed_sources == ["bigcodebench"]
    assert report.outcomes[0].action == "rejected"
    assert store.get_latest("bigcodebench", "complete") == good


class FailingFetcher:
    failures: dict[str, list[str]] = {}

    async def fetch_group(self, source: str, urls: list[str]) -> list[Document]:
        if source == "seal":
            raise ConnectionError("scale.com unreachable")
        return await LocalFetcher(BOARDS).fetch_group(source, urls)


def test_one_source_failing_never_stops_the_others() -> None:
    store = MemoryStore()
    report = run(store, FailingFetcher())
    assert report.failed_sources == ["seal"]
    assert store.get_latest("bigcodebench", "instruct") is not None
    assert store.get_latest("seal", "coding") is None


@pytest.fixture
def board_server() -> Iterator[str]:
    handler = partial(SimpleHTTPRequestHandler, directory=str(BOARDS / "bigcodebench"))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_fetch_falls_back_to_the_next_url_group(board_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = [[f"{board_server}/missing/results.json", f"{board_server}/missing/results-hard.json"],
              [f"{board_server}/results.json", f"{board_server}/results-hard.json"]]
    monkeypatch.setattr(bigcodebench, "urls", lambda: groups)
    store = MemoryStore()

    async def go() -> indexer.Report:
        fetcher = HttpFetcher(timeout=5)
        try:
            return await indexer.refresh(store, fetcher, ["bigcodebench"])
        finally:
            await fetcher.aclose()

    report = asyncio.run(go())
    assert report.failed_sources == []
    assert {o.category for o in report.outcomes if o.action == "stored"} == {
        "complete", "instruct", "hard-complete", "hard-instruct"}
    latest = store.get_latest("bigcodebench", "complete")
    assert latest is not None and latest["origin"] == f"{board_server}/results.json"


def test_hostile_pages_are_refused(tmp_path: Path) -> None:
    from mixcore.leaderboards import lmsys, seal
    from mixcore.leaderboards.models import MAX_DOCUMENT_BYTES, FormatError

    scripts = ("<html><body>" + "<script>while(true){fetch('/x')}</script><div><div><span>x</span></div></div>"
               * 100_000 + "</body></html>").encode()
    for parser in (lmsys.parse, seal.parse):
        with pytest.raises(FormatError):
            parser(Document(origin="https://lmarena.ai/leaderboard/text/overall", data=scripts))
    folder = tmp_path / "lmsys"
    folder.mkdir()
    (folder / "huge.html").write_bytes(b"<html>" + b" " * (MAX_DOCUMENT_BYTES + 1))
    fetcher = LocalFetcher(tmp_path)
    report = run(MemoryStore(), fetcher, ["lmsys"])
    assert report.failed_sources == ["lmsys"]
    assert any("larger than" in error for error in fetcher.failures["lmsys"])


@pytest.fixture(scope="module")
def real_math() -> dict[str, Any]:
    """The newest stored LMArena math ranking, from the fixture files."""
    store = MemoryStore()
    run(store, LocalFetcher(BOARDS), ["lmsys"])
    latest = store.get_latest("lmsys", "math")
    assert latest is not None and len(latest["entries"]) >= 10
    return latest


def forged(base: dict[str, Any], leader: str, score: float, *, days_later: int = 1,
           data_date: str | None = None) -> Ranking:
    """`base` with `leader` put at #1 and the real top 9 kept below it, as a hostile page would."""
    base_day = base["data_date"] or base["fetched_at"][:10]
    day = data_date or (datetime.fromisoformat(base_day) + timedelta(days=days_later)).date().isoformat()
    real = [Entry.model_validate(e) for e in base["entries"]]
    entries = [Entry(rank=1, name=leader, score=score), *[e.model_copy(update={"rank": e.rank + 1}) for e in real]]
    return Ranking(source="lmsys", category="math", metric=base["metric"], entries=entries, data_date=day,
                   fetched_at=datetime.now(UTC).isoformat(timespec="seconds"), origin="forged",
                   format=base["format"]).with_hash()


def test_a_forged_leader_with_an_impossible_score_is_rejected(real_math: dict[str, Any]) -> None:
    verdict = check(forged(real_math, "o1-pro", 99999.0), real_math)
    assert verdict.action == "reject" and "outside the plausible" in verdict.reason


def test_a_leader_far_above_the_previous_distribution_is_rejected(real_math: dict[str, Any]) -> None:
    top = [e["score"] for e in real_math["entries"][:10]]
    spread = top[0] - top[9]
    verdict = check(forged(real_math, "o1-pro", top[0] + 3 * spread), real_math)
    assert verdict.action == "reject" and "plausible" in verdict.reason


def test_a_genuine_debut_at_number_one_with_an_ordinary_score_is_stored(real_math: dict[str, Any]) -> None:
    top = [e["score"] for e in real_math["entries"][:10]]
    debut = forged(real_math, "brand-new-model-2026-11", top[0] + (top[0] - top[9]) / 2)
    assert check(debut, real_math).action == "store"


def test_a_ranking_dated_in_the_future_is_rejected_and_never_blocks_real_data(real_math: dict[str, Any]) -> None:
    future = forged(real_math, "o1-pro", real_math["entries"][0]["score"], data_date="2099-12-31")
    assert check(future, real_math).action == "reject"
    assert in_future("2099-12-31") and not in_future(datetime.now(UTC).date().isoformat())
    # One stored before this check existed: the next genuine refresh replaces it.
    genuine = forged(real_math, real_math["entries"][0]["name"], real_math["entries"][0]["score"], days_later=0)
    assert check(genuine, future.model_dump(mode="json")).action == "store"


def test_an_unchanged_source_is_still_fresh() -> None:
    """`fetched_at` is when the data last changed; `last_fetch_at` when the source last answered, which is
    what the stale-leaderboard alarm watches (BigCodeBench has not changed since April 2025)."""
    store = MemoryStore()
    run(store, LocalFetcher(BOARDS / "bigcodebench"), ["bigcodebench"])
    long_ago = "2026-01-01T00:00:00+00:00"
    latest = store.get_latest("bigcodebench", "complete")
    assert latest is not None
    store.put_ranking({**latest, "fetched_at": long_ago, "last_fetch_at": long_ago})
    again = run(store, LocalFetcher(BOARDS / "bigcodebench"), ["bigcodebench"])
    assert again.count("unchanged") > 0 and again.count("stored") == 0
    refreshed = store.get_latest("bigcodebench", "complete")
    assert refreshed is not None and refreshed["fetched_at"] == long_ago and refreshed["last_fetch_at"] > long_ago
    assert (views.age_hours(refreshed) or 0.0) < 1.0


def test_a_failed_source_says_which_url_failed_and_how(board_server: str, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    missing = f"{board_server}/gone/results.json"
    monkeypatch.setattr(bigcodebench, "urls", lambda: [[missing]])

    async def go() -> indexer.Report:
        fetcher = HttpFetcher(timeout=5)
        try:
            return await indexer.refresh(MemoryStore(), fetcher, ["bigcodebench"])
        finally:
            await fetcher.aclose()

    report = asyncio.run(go())
    assert report.failed_sources == ["bigcodebench"]
    assert report.reasons("bigcodebench") == [f"{missing}: HTTP 404"]
    result = service.report_run(report, MemoryStore())
    assert result["failed"] == {"bigcodebench": [f"{missing}: HTTP 404"]}
    failure = next(r for r in caplog.records if r.getMessage() == "leaderboard source failed")
    assert (failure.source, failure.reasons) == ("bigcodebench", [f"{missing}: HTTP 404"])  # type: ignore[attr-defined]


def shifted(ranking: Ranking, by: float) -> Ranking:
    """The ranking with every model below #1 scoring `by` more: how a poisoned page moves the whole board."""
    entries = [ranking.entries[0], *[e.model_copy(update={"score": (e.score or 0) + by}) for e in ranking.entries[1:]]]
    return ranking.model_copy(update={"entries": entries}).with_hash()


def test_a_realistic_debut_far_above_the_leader_is_stored_when_the_rest_of_the_ranking_held(
        real_math: dict[str, Any]) -> None:
    # Given a new model 68 points above the leader (past the old top 10 spread), everyone else where they were
    top = [e["score"] for e in real_math["entries"][:10]]
    assert top[0] - top[9] < 68  # the debut leads by more than the spread the old rule allowed
    debut = forged(real_math, "brand-new-model-2026-12", top[0] + 68)
    # Then it is stored: that is how a real debut looks
    assert check(debut, real_math).action == "store"
    # But the same #1 over a board whose other models all moved 30 points is refused: that is how poisoning looks
    verdict = check(shifted(debut, 30), real_math)
    assert verdict.action == "reject" and "spread" in verdict.reason


def test_an_undated_saved_file_never_replaces_a_dated_newer_one(tmp_path: Path) -> None:
    # Given LMArena's text board saved twice: the original without a date in its name, and a newer copy, dated
    original = next((BOARDS / "lmsys").glob("arena-catalog_leaderboard-text-style-control_*.json"))
    board = json.loads(original.read_text())
    newer = json.loads(original.read_text())
    second = sorted(newer["coding"], key=lambda name: -newer["coding"][name]["rating"])[1]
    newer["coding"][second] = {k: v + 1.0 for k, v in newer["coding"][second].items()}
    folder = tmp_path / "lmsys"
    folder.mkdir()
    (folder / "leaderboard-text-style-control.json").write_text(json.dumps(board))
    (folder / "leaderboard-text-style-control_2026-01-10.json").write_text(json.dumps(newer))
    store = MemoryStore()
    # When both are read in one run, and the undated one again in a later run
    run(store, LocalFetcher(tmp_path), ["lmsys"])
    again = run(store, LocalFetcher(folder / "leaderboard-text-style-control.json"), ["lmsys"])
    # Then the dated copy is the latest ranking, whatever the order the files were read or fetched in
    latest = store.get_latest("lmsys", "coding")
    assert latest is not None and latest["data_date"] == "2026-01-10"
    assert next(e["score"] for e in latest["entries"] if e["name"] == second) == pytest.approx(
        newer["coding"][second]["rating"], abs=0.001)
    assert again.count("stored") == 0


def violations_board(scores: list[float], day: str) -> Ranking:
    """A lower-is-better board (SEAL's adversarial robustness counts violations): rank 1 has the fewest."""
    entries = [Entry(rank=i + 1, name=f"model-{i}", score=s) for i, s in enumerate(scores)]
    return Ranking(source="seal", category="adversarial-robustness", metric="number of violations",
                   higher_is_better=False, entries=entries, data_date=day, fetched_at=f"{day}T00:00:00+00:00",
                   origin="https://example.test/seal", format="seal-html").with_hash()


def test_a_forged_leader_on_a_lower_is_better_board_is_refused() -> None:
    # Given a board of 500..590 violations (top-10 spread 90), and a forged #1 with none, the rest kept below it
    last = violations_board([500.0 + 10 * i for i in range(12)], "2026-11-01")
    forged_entries = [Entry(rank=1, name="forged", score=0.0),
                      *[e.model_copy(update={"rank": e.rank + 1}) for e in last.entries]]
    forged_board = last.model_copy(update={"entries": forged_entries, "data_date": "2026-11-02"}).with_hash()
    # Then 500 fewer violations than the leader, past even a debut's allowance (2 × 90 × (1 + 1/30)), is refused
    verdict = check(forged_board, last.model_dump(mode="json"))
    assert verdict.action == "reject" and "500" in verdict.reason
    # While a new #1 with 20 fewer violations than the leader is an ordinary improvement
    fair = [Entry(rank=1, name="improved", score=480.0), *forged_entries[1:]]
    assert check(last.model_copy(update={"entries": fair, "data_date": "2026-11-02"}).with_hash(),
                 last.model_dump(mode="json")).action == "store"


def test_a_new_leader_exactly_one_spread_up_is_stored_and_the_spread_runs_to_the_tenth() -> None:
    # Given a board 500..410 (ten entries, spread 90 from the 1st to the 10th) and the same day's next version in
    # which every other model moved 30 (so no debut allowance): a new #1 at 590 is exactly 90 up
    last = Ranking(source="lmsys", category="math", metric="arena score",
                   entries=[Entry(rank=i + 1, name=f"m{i}", score=500.0 - 10 * i) for i in range(12)],
                   data_date="2026-11-01", fetched_at="2026-11-01T00:00:00+00:00", origin="https://x.test/a",
                   format="arena-catalog-json").with_hash()
    moved = [e.model_copy(update={"rank": e.rank + 1, "score": (e.score or 0) + 30}) for e in last.entries]
    at_limit = last.model_copy(update={"entries": [Entry(rank=1, name="new", score=590.0), *moved]}).with_hash()
    assert check(at_limit, last.model_dump(mode="json")).action == "store"
    past_limit = last.model_copy(update={"entries": [Entry(rank=1, name="new", score=590.5), *moved]}).with_hash()
    assert check(past_limit, last.model_dump(mode="json")).action == "reject"
