"""Which LMArena category a prompt belongs to, by cheap rules: an image in it, its script and language, its turns,
and the words and marks that code, math, creative writing and formatting instructions carry. The conversation's
turns decide; an app's system prompt is read only when they name no language or topic. `index/auto` answers each
prompt with that category's index mix, and says which rule decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mixcore.providers.tokens import input_modalities
from mixcore.providers.types import message_text


@dataclass(frozen=True)
class Category:
    name: str  # lmsys category (the index mix is index/lmsys-<name>)
    why: str


_SCRIPTS = [("japanese", re.compile(r"[\u3040-\u30ff]"), "kana"), ("korean", re.compile(r"[\uac00-\ud7af]"), "Hangul"),
            ("chinese", re.compile(r"[\u4e00-\u9fff]"), "Han characters without kana"),
            ("russian", re.compile(r"[\u0400-\u04ff]"), "Cyrillic")]
_STOPWORDS = {"french": {"le", "la", "les", "est", "et", "une", "des", "pour", "avec", "vous", "je", "que", "pas",
                         "du", "au", "aux", "entre", "quelle", "quel", "comment", "pourquoi", "mon", "moi", "ce"},
              "spanish": {"el", "los", "las", "es", "y", "una", "para", "con", "que", "por", "como", "pero", "del",
                          "la", "lo", "mi", "cuál", "qué", "cómo", "tengo", "puedo", "mejor", "muy", "me", "estoy",
                          "más", "hay", "este", "esta", "usted", "nos"},
              "german": {"der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "ich", "sie", "zu", "auf",
                         "du", "wie", "was", "warum", "wann", "oder", "zum", "zur", "den", "dem", "mir", "kannst",
                         "kann", "wenn", "sind", "sich", "auch", "noch", "aber", "habe", "möchte", "sollte",
                         "meinen", "meine", "welche", "gibt", "worauf"}}
_ANSWER_LANGUAGE = re.compile(r"\b(?:answer|respond|reply|write|speak)\w*[ \t]+(?:only[ \t]+|always[ \t]+)?in[ \t]+"
                              r"(chinese|japanese|korean|russian|french|spanish|german)\b", re.IGNORECASE)
# Code is recognised by its syntax (case-sensitive: `from`, `where`, `class` and `return` are English words too),
# by the names of languages and tools, and by a request to write or fix code.
# Every repeat is bounded: a prompt is the client's, and an unbounded `.+` after a repeated word is quadratic.
_CODE_SYNTAX = re.compile(r"```|^[ \t]*(def|class)[ \t]+\w+[ \t]*[(:]|^[ \t]*(import[ \t]+[\w.]+[ \t]*$|"
                          r"from[ \t]+[\w.]+[ \t]+import\b)|"
                          r"\bfunction\s*\w{0,80}\s*\([^)]{0,200}\)\s*\{|=>|\w\.\w{1,80}\([^)\n]{0,200}\)\s*;|"
                          r"#include\s*<|\bSELECT\b[^\n]{1,200}?\bFROM\b|\b(console\.log|System\.out|std::|printf\()|"
                          r"^[ \t]*for[ \t]+\w+[ \t]+in[ \t]+[^\n]{1,200}:[ \t]*$|\b\w+[ \t]*[-+*/]=[ \t]*[\w(]",
                          re.MULTILINE)
_CODE_WORDS = re.compile(r"(?<![\w+#])(python|javascript|typescript|java|golang|rust|kotlin|c\+\+|c#|sql|bash|"
                         r"html|css|regex|numpy|pandas|django|react|docker|git)(?![\w+#])|"
                         r"\b(stack trace|syntax error|segfault|linked list|binary tree|recursion|unit tests?|"
                         r"compiler?|compile|refactor|debug|algorithm|mutex|deadlock|race condition|multithread\w*|"
                         r"time complexity|big o|hash ?map|quicksort|merge ?sort|binary search|dockerfile|kubernetes|"
                         r"npm|webpack|api endpoint|rest api)\b|"
                         r"\b(write|fix|debug|review|optimi[sz]e)\b[^.?!\n]{0,30}\b(code|function|script|program|"
                         r"method|query)\b", re.IGNORECASE)
_MATH = re.compile(r"\b(solve|equation|integral|derivative|prove|theorem|probability|matrix|eigen\w*|calculate|"
                   r"compute|how many|how much|percent|sum of|factor|variance of|expected (?:value|number))\b|"
                   r"[=^√∑∫]|\d+\s*[-+*/×÷]\s*\d+",
                   re.IGNORECASE)
# A word problem: a short question with at least two quantities (numbers that are not years).
_QUANTITY = re.compile(r"(?<![\d.,])(?!(?:1[5-9]|20)\d\d(?!\d|[.,]\d))\d+(?:[.,]\d+)*")
_QUESTION = re.compile(r"\b(what|how|find)\b", re.IGNORECASE)
WORD_PROBLEM_CHARS = 800
_CREATIVE = re.compile(r"\b(write|compose|draft)\b.{0,40}\b(story|poem|song|lyrics|haiku|sonnet|novel|screenplay|"
                       r"fiction|fairy tale|limerick)\b|\b(poem|haiku|short story|limerick)\b",
                       re.IGNORECASE | re.DOTALL)
_INSTRUCTIONS = re.compile(r"\b(exactly|at most|at least|no more than)\s+\w+\s+(words|sentences|bullet|lines|"
                           r"paragraphs)\b|\b(in json|as a table|bullet points|all caps|lowercase|uppercase|"
                           r"do not use|without using|without the letter)\b|\banswer in \w+", re.IGNORECASE)
LONG_PROMPT_CHARS = 1_500
READ_CHARS = 20_000  # the rules read this much of a prompt (its start); the length rule counts all of it


INSTRUCTION_ROLES = frozenset({"system", "developer"})


def categorise(messages: Sequence[dict[str, Any]]) -> Category:
    """The category of what is asked: the conversation's own turns decide; an app's system prompt only names the
    category (its language or topic) when the question names none, and its length never makes a question hard."""
    if "image" in input_modalities(list(messages)):  # only a vision model can answer it, whatever its words
        return Category("vision", "an image in the prompt")
    messages = [m for m in messages if isinstance(m, dict)]
    turns = [m for m in messages if m.get("role") not in INSTRUCTION_ROLES]
    asked = message_text(turns or messages)
    # A conversation of instructions alone is read as the question itself.
    instructions = message_text([m for m in messages if m.get("role") in INSTRUCTION_ROLES]) if turns else ""
    language = _language(asked[:READ_CHARS])
    if language is None and instructions:
        language = _language(instructions[:READ_CHARS], " (in the system prompt)")
    if language is not None:
        return language
    if sum(1 for m in turns if m.get("role") == "user") > 1:
        return Category("multi-turn", "more than one user turn")
    topic = _topic(asked[:READ_CHARS])
    if topic is None and instructions:
        topic = _topic(instructions[:READ_CHARS], " (in the system prompt)", word_problem=False)
    if topic is not None:
        return topic
    if len(asked) >= LONG_PROMPT_CHARS:
        return Category("hard", f"a long prompt ({len(asked)} characters)")
    return Category("overall", "no category rule matched")


def _language(text: str, where: str = "") -> Category | None:
    for name, script, label in _SCRIPTS:
        if len(script.findall(text)) >= 2:
            return Category(name, f"written in {label}{where}")
    asked_for = _ANSWER_LANGUAGE.search(text)
    if asked_for:
        return Category(asked_for.group(1).lower(), f"asks for answers in {asked_for.group(1).title()}{where}")
    words = re.findall(r"[a-zäöüßéèêàçñáíóú]+", text.lower())
    if words:
        counts = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
        language, hits = max(counts.items(), key=lambda item: item[1])
        if hits >= 3 and hits / len(words) >= 0.15:
            return Category(language, f"{hits} of its {len(words)} words are common {language.title()} words{where}")
    return None


def _topic(text: str, where: str = "", *, word_problem: bool = True) -> Category | None:
    for name, pattern, why in (("creative-writing", _CREATIVE, "asks for a story, poem or song"),
                               ("coding", _CODE_SYNTAX, "code"),
                               ("coding", _CODE_WORDS, "a programming language, tool or task"),
                               ("math", _MATH, "a calculation or a math word"),
                               ("instruction-following", _INSTRUCTIONS, "format or length instructions")):
        found = pattern.search(text)
        if found:
            return Category(name, f"{why}: {found.group(0).strip()[:40]!r}{where}")
    quantities = _QUANTITY.findall(text) if word_problem else []
    if len(quantities) >= 2 and len(text) <= WORD_PROBLEM_CHARS and _QUESTION.search(text):
        return Category("math", f"a question with quantities to work with: {', '.join(quantities[:3])}{where}")
    return None
