"""Loads the package's default mix definitions into the store, where users add their own beside them."""

from __future__ import annotations

from mixcore.mixes.definitions import default_mixes
from mixcore.store.base import MixStore


def seed_default_mixes(store: MixStore, *, overwrite: bool = False) -> int:
    """Store the default mix definitions (keeping user edits unless `overwrite`); returns how many were written."""
    existing = {m["id"] for m in store.list_mixes()}
    written = 0
    for mix in default_mixes().values():
        if overwrite or mix.id not in existing:
            store.put_mix(mix.model_dump(mode="json"))
            written += 1
    return written
