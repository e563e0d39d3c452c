"""Sanity checks and whole indexer runs over the real fixtures, from disk and over loopback HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mixcore.leaderboards import bigcodebench, indexer
from mixcore.leaderboards.fetch import HttpFetcher, LocalFetcher
from mixcore.leaderboards.models import Document, Entry, Ranking
from mixcore.leaderboards.sanity import check
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
    # A year apart, a new top 10 is news, not noise.
    assert check(ranking(NAMES[20:] + NAMES[:20], date="2027-11-01"), good.model_dump()).action == "store"
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
    assert any("larger than" in error for error in fetcher.errors)
