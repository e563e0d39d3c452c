"""The default mixes shipped with the package, loaded into the store (built out by the mix issues)."""

from __future__ import annotations

from typing import Any


def seed_default_mixes(store: Any) -> int:
    """Store the default mix definitions; returns how many were written."""
    return 0
