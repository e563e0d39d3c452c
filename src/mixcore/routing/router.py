"""The shipped prompt router: a linear model over hashed word n-grams and the prompt's length.

Scoring reads only the end of a prompt (`TAIL_CHARS`: the question of a long prompt comes last) and
its length, so a 20,000-token prompt costs no more than a short one. The model is a file of float32
weights (`data/router.bin`, written by `bench/train_router.py`), loaded once per warm container.
Higher scores mean "send to the strong model".
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mixcore.routing.datasets import Example

BUCKETS = 1 << 18
TAIL_CHARS = 6_000
LENGTH_BINS = 24  # log2 of the prompt's length in characters, one feature per bin
_WORD = re.compile(r"[a-z]+|\d")


def features(prompt: str) -> list[int]:
    """Hashed unigrams and bigrams of the prompt's last words, and its length bin (indices, without repeats)."""
    words = _WORD.findall(prompt[-TAIL_CHARS:].lower())
    found = {zlib.crc32(w.encode()) % BUCKETS for w in words}
    found.update(zlib.crc32(f"{a} {b}".encode()) % BUCKETS for a, b in itertools.pairwise(words))
    found.add(length_feature(prompt))
    return list(found)


def length_feature(prompt: str) -> int:
    return BUCKETS + min(LENGTH_BINS - 1, int(math.log2(len(prompt) + 1)))


@dataclass
class LinearRouter:
    weights: array[float] = field(default_factory=lambda: array("f", bytes(4 * (BUCKETS + LENGTH_BINS))))
    bias: float = 0.0
    length_weight: float = 0.0  # on log(length): lets a little training keep the length signal
    name: str = "ngram-linear"

    def score(self, prompt: str) -> float:
        active = features(prompt)
        scale = 1 / math.sqrt(len(active))
        total = self.bias + self.length_weight * math.log1p(len(prompt))
        weights = self.weights
        for index in active:
            total += weights[index] * scale
        return total

    def scores(self, prompts: Sequence[str]) -> list[float]:
        return [self.score(p) for p in prompts]

    def save(self, path: Path) -> None:
        header = json.dumps({"name": self.name, "bias": self.bias, "length_weight": self.length_weight,
                             "buckets": BUCKETS, "length_bins": LENGTH_BINS}).encode()
        path.write_bytes(len(header).to_bytes(4, "little") + header + self.weights.tobytes())

    @classmethod
    def load(cls, data: bytes) -> LinearRouter:
        size = int.from_bytes(data[:4], "little")
        header = json.loads(data[4:4 + size])
        if header["buckets"] != BUCKETS or header["length_bins"] != LENGTH_BINS:
            raise ValueError("router file made for other feature sizes")
        weights: array[float] = array("f")
        weights.frombytes(data[4 + size:])
        return cls(weights, float(header["bias"]), float(header["length_weight"]), str(header["name"]))


def train(examples: Sequence[Example], *, epochs: int = 6, rate: float = 0.5, l2: float = 1e-6,
          seed: int = 0) -> LinearRouter:
    """Logistic regression by SGD on "the strong model did better" (pure Python: no numpy on Lambda)."""
    router = LinearRouter()
    rows = [(features(e.prompt), math.log1p(len(e.prompt)), 1.0 if e.needs_strong else 0.0) for e in examples]
    mean_length = sum(r[1] for r in rows) / max(1, len(rows))
    order = list(range(len(rows)))
    draw = random.Random(seed)
    weights = router.weights
    step = 0
    for _ in range(epochs):
        draw.shuffle(order)
        for i in order:
            active, length, label = rows[i]
            scale = 1 / math.sqrt(len(active))
            z = router.bias + router.length_weight * length + sum(weights[j] for j in active) * scale
            error = 1 / (1 + math.exp(-max(-30.0, min(30.0, z)))) - label
            step += 1
            lr = rate / math.sqrt(1 + step / len(rows))
            for j in active:
                weights[j] -= lr * (error * scale + l2 * weights[j])
            router.bias -= lr * error
            router.length_weight -= lr * 0.1 * error * (length - mean_length)
    return router


@lru_cache(maxsize=1)
def shipped_router() -> LinearRouter:
    """The router trained on the vendored evaluation data (see bench/train_router.py)."""
    return LinearRouter.load(resources.files("mixcore.routing").joinpath("data/router.bin").read_bytes())
