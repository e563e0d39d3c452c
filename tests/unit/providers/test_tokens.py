"""The token bound budgets reserve on (providers/tokens.py), checked on text of every kind the repository holds.

No tokenizer vocabulary ships offline (tiktoken downloads its BPE files at first use), so the truth each corpus is
checked against is what is known without one: the local stack's providers' own count (what every e2e test bills),
and the ratios the model makers publish (OpenAI: about 4 characters a token of English; code runs denser, about 3;
Chinese about one token a character or more). The bound must be at or above each, on every corpus, and no more
than twice the English ratio on prose (else small budgets refuse honest requests)."""

from __future__ import annotations

import pytest

from mixcore.providers.tokens import request_token_bound, text_token_bound
from mixcore.providers.types import estimate_tokens
from tests.conftest import FIXTURES, REPO

PROSE = (REPO / "README.md").read_text()
CODE = "\n".join(p.read_text() for p in sorted((REPO / "src" / "mixcore").rglob("*.py")))
NAMES = (FIXTURES / "pricing" / "openrouter_models_2026-04-04.json").read_text()[:200_000]  # JSON, ids, prose
# The opening of the Universal Declaration of Human Rights, as the UN publishes it in Chinese and in Russian.
CHINESE = ("人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。" * 20)
RUSSIAN = ("Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и "
           "совестью и должны поступать в отношении друг друга в духе братства. " * 20)
CORPORA = {"prose": PROSE, "code": CODE, "json": NAMES, "chinese": CHINESE, "russian": RUSSIAN}


@pytest.mark.parametrize("name", list(CORPORA))
def test_the_bound_is_never_below_the_local_providers_count(name: str) -> None:
    text = CORPORA[name]
    assert text_token_bound(text) >= estimate_tokens(text)
    message = {"messages": [{"role": "user", "content": text}]}
    assert request_token_bound(message) >= estimate_tokens(text) + 3  # what the demo adds per message


def test_the_bound_is_at_or_above_the_published_ratios() -> None:
    assert text_token_bound(PROSE) >= len(PROSE) / 4
    assert text_token_bound(CODE) >= len(CODE) / 3
    assert text_token_bound(CHINESE) >= sum(1 for ch in CHINESE if "\u4e00" <= ch <= "\u9fff")


def test_prose_is_not_bounded_at_more_than_twice_its_published_count() -> None:
    sentences = "The quick brown fox jumps over the lazy dog while the farmer counts his sheep. " * 50
    assert text_token_bound(sentences) <= 2 * len(sentences) / 4


def test_text_of_single_bytes_is_bounded_by_its_bytes() -> None:
    odd = "".join(chr(c) for c in range(0x2600, 0x2700))  # symbols: three UTF-8 bytes, no letters
    assert text_token_bound(odd) == len(odd.encode())
    assert text_token_bound("1234567890") == 10  # one token a digit (Llama's tokenizers split every digit)

