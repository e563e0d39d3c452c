"""Which LMArena category a prompt belongs to, by cheap rules: its script and language, its turns, and the words
and marks that code, math, creative writing and formatting instructions carry. `index/auto` answers each
prompt with that category's index mix, and says which rule decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mixcore.providers.types import message_text


@dataclass(frozen=True)
class Category:
    name: str  # lmsys category (the index mix is index/lmsys-<name>)
    why: str


_SCRIPTS = [("japanese", re.compile(r"[\u3040-\u30ff]"), "kana"), ("korean", re.compile(r"[\uac00-\ud7af]"), "Hangul"),
            ("chinese", re.compile(r"[\u4e00-\u9fff]"), "Han characters without kana"),
            ("russian", re.compile(r"[\u0400-\u04ff]"), "Cyrillic")]
_STOPWORDS = {"french": {"le", "la", "les", "est", "et", "une", "des", "pour", "avec", "vous", "je", "que", "pas"},
              "spanish": {"el", "los", "las", "es", "y", "una", "para", "con", "que", "por", "como", "pero", "del"},
              "german": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "ich", "sie", "zu", "auf"}}
_CODE = re.compile(r"```|\b(def|class|import|function|return|const|var|public|static|SELECT|FROM|WHERE)\b|[{};]\s*$|"
                   r"\b(python|javascript|typescript|java|rust|golang|c\+\+|sql|regex|bug|stack trace|compile|"
                   r"refactor|api|code)\b", re.IGNORECASE | re.MULTILINE)
_MATH = re.compile(r"\b(solve|equation|integral|derivative|prove|theorem|probability|matrix|calculate|compute|"
                   r"how many|how much|percent|sum of|factor)\b|[=^√∑∫]|\d+\s*[-+*/×÷]\s*\d+", re.IGNORECASE)
_CREATIVE = re.compile(r"\b(write|compose|draft)\b.{0,40}\b(story|poem|song|lyrics|haiku|sonnet|novel|screenplay|"
                       r"fiction|fairy tale|limerick)\b|\b(poem|haiku|short story)\b", re.IGNORECASE | re.DOTALL)
_INSTRUCTIONS = re.compile(r"\b(exactly|at most|at least|no more than)\s+\w+\s+(words|sentences|bullet|lines|"
                           r"paragraphs)\b|\b(in json|as a table|bullet points|all caps|do not use|without using)\b",
                           re.IGNORECASE)
LONG_PROMPT_CHARS = 1_500


def categorise(messages: Sequence[dict[str, Any]]) -> Category:
    text = message_text(list(messages))
    for name, script, label in _SCRIPTS:
        if len(script.findall(text)) >= 2:
            return Category(name, f"written in {label}")
    words = re.findall(r"[a-zäöüßéèêàçñáíóú]+", text.lower())
    if words:
        counts = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
        language, hits = max(counts.items(), key=lambda item: item[1])
        if hits >= 3 and hits / len(words) >= 0.15:
            return Category(language, f"{hits} of its {len(words)} words are common {language.title()} words")
    if sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user") > 1:
        return Category("multi-turn", "more than one user turn")
    for name, pattern, why in (("coding", _CODE, "code or a programming word"),
                               ("math", _MATH, "a calculation or a math word"),
                               ("creative-writing", _CREATIVE, "asks for a story, poem or song"),
                               ("instruction-following", _INSTRUCTIONS, "format or length instructions")):
        found = pattern.search(text)
        if found:
            return Category(name, f"{why}: {found.group(0).strip()[:40]!r}")
    if len(text) >= LONG_PROMPT_CHARS:
        return Category("hard", f"a long prompt ({len(text)} characters)")
    return Category("overall", "no category rule matched")
