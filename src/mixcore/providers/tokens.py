"""How many tokens a request or an answer can hold, counted without the model's tokenizer.

No tokenizer vocabulary ships offline (tiktoken downloads its BPE files at first use; there is none
in the layer), so text is counted with a bound calibrated for real text: a word of ASCII letters is at
most one token per three letters (English averages four to five letters a token), a space before a
word joins it, each digit and each ASCII punctuation mark may be its own token, a run of other
whitespace one token per four characters, a letter of another script 0.75 (two UTF-8 bytes: Cyrillic,
Greek, Arabic...) or 1.5 tokens (three bytes: CJK, kana, Hangul), and any other character one token
per UTF-8 byte (the most a byte-level BPE can spend). `tests/unit/providers/test_tokens.py` checks the
bound against the counts of the corpora it ships; text built to defeat it (random letters) can pass it,
and then the provider's report is billed as it is (costs/pricing.py).

A request is counted field by field over everything the provider receives (messages, tools, legacy
functions, response_format, every other field): keys and strings as text, numbers by their digits,
one token per container, and an image part at the most its provider documents. Parts whose cost
cannot be bounded from the request (files, audio) are named by `unbounded_parts`, so a budget refuses
them instead of guessing.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mixcore.providers.types import Usage

_PIECE = re.compile(r"[A-Za-z]+| (?=[A-Za-z])|[0-9]|[ \t\r\n\f\v]+|[!-~]|[^\W\d_]+|.", re.DOTALL)
LETTERS_PER_TOKEN = 3
WHITESPACE_PER_TOKEN = 4

# An image part: above what OpenAI (≤1,445 for a high-detail image on gpt-4o), Anthropic (≤1,600:
# larger images are scaled down) and Gemini 3 (1,120 at high media resolution) document for one image.
TOKENS_PER_IMAGE = 2_000
# Models whose provider documents more per image (OpenAI: gpt-4o-mini counts 2,833 + 5,667 per
# 512-px tile, up to 8 tiles).
IMAGE_TOKENS_BY_MODEL = {"gpt-4o-mini": 48_169}
MEDIA_PART_TYPES = {"image_url": "image", "input_image": "image", "image": "image",
                    "input_audio": "audio", "audio": "audio", "file": "file", "input_file": "file",
                    "document": "file"}
# What a provider adds around the fields it receives: the chat template's role markers, and the system
# prompt Anthropic documents for tool use (up to 346 tokens), with room to spare.
TOKENS_PER_MESSAGE = 8
REQUEST_OVERHEAD_TOKENS = 16
TOOLS_OVERHEAD_TOKENS = 600
NOT_PROMPT = frozenset({"model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n",
                        "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "seed",
                        "logprobs", "top_logprobs", "user", "store", "service_tier", "parallel_tool_calls",
                        "reasoning_effort"})


def text_token_bound(text: str) -> int:
    """The most tokens `text` is taken to hold (see the module docstring for the rule)."""
    if not text:
        return 0
    total = 0.0
    for piece in _PIECE.findall(text):
        first = piece[0]
        if first == " " and len(piece) == 1:
            continue  # joins the word after it
        if first.isascii():
            if first.isalpha():
                total += math.ceil(len(piece) / LETTERS_PER_TOKEN)
            elif first.isspace():
                total += math.ceil(len(piece) / WHITESPACE_PER_TOKEN)
            else:
                total += 1
        elif first.isalpha():
            total += sum(_letter_weight(ch) for ch in piece)
        else:
            total += len(piece.encode("utf-8", "surrogatepass"))
    return math.ceil(total)


def _letter_weight(ch: str) -> float:
    size = len(ch.encode("utf-8", "surrogatepass"))
    return 0.75 if size == 2 else 1.5 if size == 3 else float(size)


def media_kind(part: Any) -> str | None:
    """'image', 'audio' or 'file' for a non-text content part, else None."""
    if isinstance(part, dict):
        return MEDIA_PART_TYPES.get(str(part.get("type")))
    return None


def input_modalities(messages: list[dict[str, Any]]) -> set[str]:
    """The catalog's input modalities a conversation's content parts need besides text ('image', 'audio')."""
    found = {media_kind(part) for message in messages if isinstance(message, dict)
             and isinstance(message.get("content"), list) for part in message["content"]}
    return {kind for kind in ("image", "audio") if kind in found}


def image_tokens(model: str) -> int:
    return next((tokens for stem, tokens in IMAGE_TOKENS_BY_MODEL.items() if stem in model), TOKENS_PER_IMAGE)


def value_token_bound(value: Any, model: str = "") -> int:
    """Tokens for a JSON value as a provider receives it: strings and keys as text, numbers by digits, one per
    container; a media part counts what its provider documents (files and audio count their text fields only:
    see `unbounded_parts`)."""
    if isinstance(value, str):
        return text_token_bound(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return len(str(value))
    if isinstance(value, dict):
        if media_kind(value) == "image":
            return image_tokens(model)
        return 1 + sum(text_token_bound(str(k)) + value_token_bound(v, model) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 1 + sum(value_token_bound(v, model) for v in value)
    return text_token_bound(str(value))


def request_token_bound(params: dict[str, Any], model: str = "") -> int:
    """The most prompt tokens a provider can bill for these request fields."""
    total = REQUEST_OVERHEAD_TOKENS
    messages = params.get("messages")
    if isinstance(messages, list):
        total += TOKENS_PER_MESSAGE * len(messages)
    if params.get("tools") or params.get("functions"):
        total += TOOLS_OVERHEAD_TOKENS
    for name, value in params.items():
        if name not in NOT_PROMPT and value is not None:
            total += text_token_bound(name) + value_token_bound(value, model)
    return total


def unbounded_parts(params: dict[str, Any]) -> list[str]:
    """The kinds of message parts (file, audio) whose tokens cannot be bounded from the request itself."""
    kinds: list[str] = []
    for message in params.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            kind = media_kind(part)
            if kind in ("file", "audio") and kind not in kinds:
                kinds.append(kind)
    return kinds


def answer_texts(body: dict[str, Any]) -> list[str]:
    """Everything an answer body carries that a provider bills as output: every choice's content, reasoning and
    tool-call arguments (legacy function_call included)."""
    texts: list[str] = []
    for choice in body.get("choices") or []:
        message = (choice.get("message") or choice.get("delta") or {}) if isinstance(choice, dict) else {}
        texts.extend(message_output_texts(message))
    return texts


def message_output_texts(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return []
    texts = [v for k in ("content", "reasoning_content", "reasoning", "refusal")
             if isinstance(v := message.get(k), str)]
    calls = list(message.get("tool_calls") or [])
    if isinstance(message.get("function_call"), dict):
        calls.append({"function": message["function_call"]})
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            texts.extend(str(function.get(k) or "") for k in ("name", "arguments"))
    return texts


def output_token_bound(texts: list[str]) -> int:
    return sum(text_token_bound(t) for t in texts)


def estimated_usage(params: dict[str, Any], model: str, output: list[str]) -> Usage:
    """Usage a provider did not report, from everything sent and received: never less than the bound allows."""
    return Usage(prompt_tokens=request_token_bound(params, model), completion_tokens=output_token_bound(output),
                 estimated=True)
