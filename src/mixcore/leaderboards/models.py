"""Rankings as parsed from a leaderboard page or file, and the documents they come from."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from pydantic import Field, TypeAdapter

from mixcore.model import Model

DATE_IN_NAME = re.compile(r"(20\d\d)[-_]?([01]\d)[-_]?([0-3]\d)")
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024


class FormatError(ValueError):
    """The bytes are not a leaderboard in any format this source knows."""


class NotARanking(FormatError):
    """A recognised file that carries no ranking (model metadata only)."""


class Document(Model):
    """Bytes from the network or from disk: both take exactly the same path from here on."""

    origin: str = Field(description="URL or file path the bytes came from")
    data: bytes
    fetched_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def date_from_origin(self) -> str | None:
        found = DATE_IN_NAME.search(self.origin.rsplit("/", 1)[-1])
        return f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else None


class Entry(Model):
    rank: int
    name: str = Field(description="the model name as the leaderboard publishes it")
    key: str | None = Field(default=None, description="an API-style id the source gives beside the name")
    score: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    votes: int | None = None
    organization: str | None = None
    flags: list[str] = Field(default_factory=list, description="deprecated, preliminary, note…")


class Ranking(Model):
    source: str
    category: str
    metric: str = "score"
    higher_is_better: bool = True
    scored: bool = Field(default=True, description="False for rank-only formats")
    entries: list[Entry]
    data_date: str | None = None
    fetched_at: str
    origin: str
    format: str
    content_hash: str = ""

    def with_hash(self) -> Ranking:
        self.content_hash = hashlib.sha256(_ENTRIES.dump_json(self.entries)).hexdigest()
        return self

    def top(self, n: int) -> list[str]:
        return [e.name for e in self.entries[:n]]

    def as_of(self) -> str | None:
        """The day the data is of (see `data_as_of`)."""
        return data_as_of(self.data_date, self.fetched_at, self.origin)


def data_as_of(data_date: str | None, fetched_at: str, origin: str) -> str | None:
    """The day ranking data is of: the date inside it or in its file's name; for data fetched live without a date,
    the day it was fetched (a live page shows the current ranking); for a saved file without one, unknown (None),
    never the day it was read, so an undated copy never passes for newer than dated data."""
    if data_date:
        return data_date
    return fetched_at[:10] if origin.startswith(("http://", "https://")) else None


_ENTRIES = TypeAdapter(list[Entry])


def competition_ranks(scores: list[float], higher_is_better: bool = True) -> list[int]:
    """'1224' ranking: equal scores share a rank, the next rank skips."""
    ranks: list[int] = []
    for index, score in enumerate(scores):
        if index and score == scores[index - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(index + 1)
    return ranks


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
