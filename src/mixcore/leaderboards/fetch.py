"""Getting leaderboard bytes: over HTTP (httpx, timeouts, retries, a real User-Agent) or from disk."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from mixcore.leaderboards.models import MAX_DOCUMENT_BYTES, Document

USER_AGENT = ("Mozilla/5.0 (compatible; MixcoreIndexer/0.1; +https://github.com/mixcore/mixcore) "
              "python-httpx")
RETRIES = 2


class Fetcher(Protocol):
    # source → "<url>: <reason>" for every URL that gave nothing (HTTP status, network error, size)
    failures: dict[str, list[str]]

    async def fetch_group(self, source: str, urls: list[str]) -> list[Document]:
        """Documents for one group of URLs (all or nothing is not required: failures are noted and skipped)."""


class FetchFailed(RuntimeError):
    pass


class HttpFetcher:
    def __init__(self, client: httpx.AsyncClient | None = None, timeout: float = 20.0,
                 concurrency: int = 8) -> None:
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0),
                                                  headers={"user-agent": USER_AGENT}, follow_redirects=True)
        self.semaphore = asyncio.Semaphore(concurrency)
        self.failures: dict[str, list[str]] = {}

    async def get(self, url: str) -> bytes:
        last: Exception | None = None
        for attempt in range(RETRIES + 1):
            try:
                async with self.semaphore, self.client.stream("GET", url) as response:
                    if response.status_code in (429, 500, 502, 503, 504) and attempt < RETRIES:
                        last = FetchFailed(f"HTTP {response.status_code} after {RETRIES + 1} tries")
                    else:
                        if response.status_code != 200:
                            raise FetchFailed(f"{url}: HTTP {response.status_code}")
                        data = bytearray()
                        async for piece in response.aiter_bytes():
                            data.extend(piece)
                            if len(data) > MAX_DOCUMENT_BYTES:
                                raise FetchFailed(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
                        return bytes(data)
            except httpx.HTTPError as exc:
                last = exc
            await asyncio.sleep(0.5 * 2 ** attempt)
        raise FetchFailed(f"{url}: {last}")

    async def fetch_group(self, source: str, urls: list[str]) -> list[Document]:
        if urls and "datasets-server" in urls[0]:
            return await self._dataset_rows(source, urls)
        results = await asyncio.gather(*(self.get(u) for u in urls), return_exceptions=True)
        documents = []
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, BaseException):
                self.failures.setdefault(source, []).append(
                    str(result) if isinstance(result, FetchFailed) else f"{url}: {type(result).__name__}: {result}")
            else:
                documents.append(Document(origin=url, data=result))
        return documents

    async def _dataset_rows(self, source: str, urls: list[str]) -> list[Document]:
        """The HF datasets-server pages one config at a time: merge a config's pages into one document."""
        by_config: dict[str, list[str]] = {}
        for url in urls:
            config = parse_qs(urlsplit(url).query).get("config", ["text"])[0]
            by_config.setdefault(config, []).append(url)
        documents = []
        for config, pages in by_config.items():
            rows: list[object] = []
            total = None
            for url in pages:
                try:
                    page = json.loads(await self.get(url))
                except FetchFailed as exc:
                    self.failures.setdefault(source, []).append(str(exc))
                    break
                except ValueError as exc:
                    self.failures.setdefault(source, []).append(f"{url}: not JSON ({exc})"[:300])
                    break
                rows.extend(page.get("rows") or [])
                total = page.get("num_rows_total", total)
                if (total is not None and len(rows) >= total) or not page.get("rows"):
                    break
            if rows:
                merged = json.dumps({"rows": rows, "num_rows_total": total}).encode()
                documents.append(Document(origin=f"{pages[0].split('&offset=')[0]}#config={config}", data=merged))
        return documents

    async def aclose(self) -> None:
        await self.client.aclose()


class LocalFetcher:
    """Reads saved pages: one file, or a folder laid out like tests/fixtures/leaderboards (source/ folders)."""

    def __init__(self, path: Path, sources: list[str] | None = None) -> None:
        self.path = path
        self.sources = sources or []
        self.failures: dict[str, list[str]] = {}

    def files_for(self, source: str) -> list[Path]:
        if not self.path.exists():
            return []
        if self.path.is_file():
            # A single file belongs to the source named on the command line, or to its folder's name.
            wanted = self.sources[0] if len(self.sources) == 1 else self.path.parent.name
            return [self.path] if wanted == source else []
        folder = self.path / source if (self.path / source).is_dir() else self.path
        if folder == self.path and any(p.is_dir() for p in self.path.iterdir()):
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.lower().startswith("readme"))

    async def fetch_group(self, source: str, urls: list[str]) -> list[Document]:
        documents = []
        for path in self.files_for(source):
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                self.failures.setdefault(source, []).append(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes")
                continue
            documents.append(Document(origin=str(path), data=path.read_bytes()))
        return documents


@contextlib.asynccontextmanager
async def open_fetcher(saved: Path | None, sources: list[str] | None = None) -> AsyncIterator[Fetcher]:
    """Saved files when `saved` is given (a file, or a folder of source/ folders), else the network;
    the network client is closed after use."""
    if saved is not None:
        yield LocalFetcher(saved, sources)
        return
    fetcher = HttpFetcher()
    try:
        yield fetcher
    finally:
        await fetcher.aclose()
