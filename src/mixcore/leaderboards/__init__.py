"""Leaderboards: fetch (httpx) → parse by content → sanity checks → stored, versioned rankings."""
