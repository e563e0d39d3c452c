"""index/auto's category rules, one prompt per rule, and the order in which they apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixcore.routing.categories import LONG_PROMPT_CHARS, READ_CHARS, categorise


def user(*contents: str) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for content in contents:
        turns += [{"role": "user", "content": content}, {"role": "assistant", "content": "ok"}]
    return turns[:-1]


@pytest.mark.parametrize(("prompt", "category"), [
    ("Write a Python function that parses ISO dates.", "coding"),
    ("Why does this SELECT * FROM users WHERE id = 1 return nothing?", "coding"),
    ("Solve for x: 3x + 7 = 31.", "math"),
    ("What is the probability of two sixes in a row?", "math"),
    ("Write a short story about a lighthouse keeper.", "creative-writing"),
    ("Describe Paris in exactly three sentences.", "instruction-following"),
    ("请解释一下什么是机器学习。", "chinese"),
    ("機械学習とは何ですか？説明してください。", "japanese"),
    ("머신 러닝이 무엇인지 설명해 주세요.", "korean"),
    ("Объясните, что такое машинное обучение.", "russian"),
    ("Pourquoi le ciel est bleu et pas vert ? Je ne sais pas pour les nuages.", "french"),
    ("¿Por qué el cielo es azul y no verde? Es una pregunta que me hago con los niños.", "spanish"),
    ("Warum ist der Himmel blau und nicht grün? Ich weiß es nicht, und die Kinder fragen mich.", "german"),
    ("What should I cook tonight?", "overall"),
])
def test_each_rule_names_its_category(prompt: str, category: str) -> None:
    found = categorise(user(prompt))
    assert found.name == category and found.why


def test_a_conversation_is_multi_turn_before_its_topic_and_a_language_before_both() -> None:
    assert categorise(user("Write a Python function.", "Now make it faster.")).name == "multi-turn"
    assert categorise(user("用 Python 写一个函数。", "再快一点。")).name == "chinese"


def test_a_long_prompt_without_another_signal_is_a_hard_prompt() -> None:
    essay = "Consider the history of the region and its people in detail. " * (LONG_PROMPT_CHARS // 60 + 1)
    assert categorise(user(essay)).name == "hard"


@pytest.mark.parametrize("prompt", [
    "Where did the printing press come from, and which class of people used it first?",
    "What did the court decide, and where does the public stand on the function of juries today?",
    "In 1865, when the war ended, what happened to the 4 million people freed?",
])
def test_english_words_that_are_also_keywords_and_years_make_neither_code_nor_math(prompt: str) -> None:
    # The rules once took `from`, `where`, `class` and `public` for code (a quarter of MMLU's history and
    # philosophy questions were "coding"), and a year and a count for a word problem.
    assert categorise(user(prompt)).name == "overall"


def test_the_hand_labelled_prompts_get_their_labels() -> None:
    from mixcore.routing.category_checks import labelled
    from tests.conftest import FIXTURES

    rows = labelled(FIXTURES / "routing/categories/labelled_prompts.jsonl")
    wrong = [(prompt[:40], sorted(accepted), categorise(user(prompt)).name) for prompt, accepted in rows
             if categorise(user(prompt)).name not in accepted]
    assert len(rows) == 48 and wrong == []


def test_the_rules_read_the_start_of_a_prompt_and_the_length_rule_all_of_it() -> None:
    # A client's prompt can be megabytes: the rules read its first READ_CHARS characters only.
    prose = "The committee met again. " * (READ_CHARS // 25 + 1)
    code = "```python\ndef merge(a, b):\n    return sorted(a + b)\n```"
    assert categorise(user(code + prose)).name == "coding"
    late = categorise(user(prose + code))
    assert late.name == "hard" and f"({len(prose + code)} characters)" in late.why


@pytest.mark.parametrize("hostile", ["SELECT " * 20_000, "a.b(" * 20_000, "function x(" * 20_000])
def test_a_prompt_built_to_make_the_code_rules_backtrack_is_still_categorised(hostile: str) -> None:
    # Each was quadratic before the repeats were bounded (21 s for the first; bench/routing.py prints the time).
    assert categorise(user(hostile)).name == "hard"


def test_a_prompt_with_an_image_is_a_vision_prompt_before_anything_else() -> None:
    picture = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    found = categorise([{"role": "user", "content": [{"type": "text", "text": "请描述这张图片。"}, picture]}])
    assert (found.name, found.why) == ("vision", "an image in the prompt")  # before the Chinese text
    assert categorise([{"role": "user", "content": [{"type": "text", "text": "Describe it."}]}]).name == "overall"


def with_system(system: str, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def test_a_long_system_prompt_does_not_make_every_question_hard() -> None:
    # An app's 2,000-character instructions made every "hi" a hard prompt, sent to the hard-prompts leader.
    rules = "You are the support assistant of a furniture shop. Be polite and brief. " * 30
    assert len(rules) >= LONG_PROMPT_CHARS
    assert categorise(with_system(rules, "hi")).name == "overall"
    essay = "Consider the history of the region and its people in detail. " * (LONG_PROMPT_CHARS // 60 + 1)
    assert categorise(with_system("Be brief.", essay)).name == "hard"


def test_the_question_decides_before_the_system_prompt_and_the_system_prompt_before_nothing() -> None:
    poet = "You are a poet: write a poem whenever you can."
    assert categorise(with_system(poet, "Write a Python function that parses ISO dates.")).name == "coding"
    coder = "You are an expert Python developer helping with a large codebase."
    found = categorise(with_system(coder, "Why does my loop never end?"))
    assert found.name == "coding" and "system prompt" in found.why
    english = "You answer questions for the customers of a bakery. Keep answers short and friendly, and do not " \
              "mention the prices unless asked about them. " * 3
    french = "Pourquoi le pain est dur le matin et pas le soir ? Je ne sais pas pour les croissants."
    assert categorise(with_system(english, french)).name == "french"


def test_a_system_prompt_with_opening_hours_is_not_a_word_problem() -> None:
    shop = "You work at a bakery open from 7 to 19, with 12 kinds of bread. What customers ask, answer briefly."
    assert categorise(with_system(shop, "Do you sell rye bread?")).name == "overall"
    assert categorise(with_system("", "A bakery sells 12 loaves an hour for 7 hours. How many loaves?")).name == "math"


def test_a_labelled_set_holds_prompts_or_conversations_with_one_label_or_several(tmp_path: Path) -> None:
    from mixcore.routing.category_checks import labelled, score

    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Fix my Python script."}]
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"prompt": "Write a haiku about rain.", "category": "creative-writing"}) + "\n"
                    + json.dumps({"messages": conversation, "category": ["coding", "overall"]}) + "\n"
                    + json.dumps({"prompt": "Why is the sky blue?", "category": "coding"}) + "\n", encoding="utf-8")
    rows = labelled(path)
    assert rows[1] == (conversation, frozenset({"coding", "overall"}))
    found = score("three", rows)
    assert (found.prompts, found.right, dict(found.wrong)) == (3, 2, {"overall": 1})


@pytest.mark.parametrize(("prompt", "category"), [
    # Misses of the rules as the held-out set found them, each reproduced with other words.
    ("How do I avoid a deadlock between two threads that each hold a mutex?", "coding"),
    ("My Dockerfile's ENTRYPOINT seems to be ignored when I run the image.", "coding"),
    ("What is the time complexity of binary search, and why?", "coding"),
    ("Is this fine?\n\nfor item in basket:\n    count += item.qty", "coding"),
    ("What is the variance of a single fair coin flip?", "math"),
    ("What's the expected number of heads in ten tosses of a fair coin?", "math"),
    ("Estoy aprendiendo a cocinar, ¿me das una receta sencilla?", "spanish"),
    ("Kann man in Berlin am Sonntag einkaufen, wenn die Läden zu sind?", "german"),
    ("Reply in Japanese, please: what is a good gift for a colleague?", "japanese"),
])
def test_the_rules_name_what_the_held_out_set_showed_they_missed(prompt: str, category: str) -> None:
    assert categorise(user(prompt)).name == category


def test_a_system_prompt_that_sets_the_answer_language_names_that_language() -> None:
    found = categorise(with_system("Always respond in Korean.", "What is good to eat in winter?"))
    assert found.name == "korean" and "system prompt" in found.why


@pytest.mark.parametrize("prompt", ["The man was told he would die at sea: is the story true?",
                                    "Tell me a good name for my son, me and my wife like short ones."])
def test_english_words_that_are_also_german_or_spanish_keep_an_english_prompt_english(prompt: str) -> None:
    assert categorise(user(prompt)).name == "overall"
