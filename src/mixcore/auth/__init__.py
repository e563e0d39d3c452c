"""Client API keys: created once, stored only as SHA-256 hashes, checked in constant time."""
