"""Slugs: validated as lowercase kebab-case of at most 50 characters, derived from task text."""

from __future__ import annotations

import pytest

from leanforge.errors import InvalidSlug
from leanforge.slug import MAX_LENGTH, derive, validate


@pytest.mark.parametrize("slug", ["fix-add", "a", "retry-3-times", "v2", "a" * MAX_LENGTH])
def test_valid_slugs_are_returned_unchanged(slug: str) -> None:
    assert validate(slug) == slug


@pytest.mark.parametrize(
    "slug",
    ["", "Fix-Add", "fix--add", "-fix", "fix-", "fix_add", "fix add", "fix.add", "café", "fix/add"],
)
def test_non_kebab_case_is_refused_with_an_example(slug: str) -> None:
    with pytest.raises(InvalidSlug) as caught:
        validate(slug)
    message = str(caught.value)
    assert "kebab-case" in message
    assert "add-retry-logic" in message
    assert "\n" not in message


def test_too_long_is_refused_naming_the_limit() -> None:
    with pytest.raises(InvalidSlug) as caught:
        validate("a" * (MAX_LENGTH + 1))
    assert f"{MAX_LENGTH + 1} characters" in str(caught.value)
    assert f"at most {MAX_LENGTH}" in str(caught.value)


def test_an_embedded_newline_stays_on_one_line_in_the_message() -> None:
    with pytest.raises(InvalidSlug) as caught:
        validate("fix\nadd")
    assert "\n" not in str(caught.value)


def test_a_trailing_newline_is_refused() -> None:
    # `$` in re.match also matches before a final newline; the whole string must match.
    with pytest.raises(InvalidSlug):
        validate("fix-add\n")


def test_derive_drops_stopwords_and_punctuation() -> None:
    assert derive("Add retry logic to the HTTP client!") == "add-retry-logic-http-client"


def test_derive_keeps_stopwords_when_nothing_else_is_left() -> None:
    assert derive("To the") == "to-the"


@pytest.mark.parametrize("task", ["", "   ", "!!! ???", "日本語のタスク"])
def test_derive_falls_back_to_task_when_no_word_survives(task: str) -> None:
    assert derive(task) == "task"


def test_derive_keeps_only_ascii_letters_and_digits() -> None:
    slug = derive("Übersetze das Menü 2x")
    assert slug == validate(slug)
    assert slug.endswith("-2x")


def test_derive_adds_a_numeric_suffix_until_unique() -> None:
    assert derive("fix add", taken={"fix-add"}) == "fix-add-2"
    assert derive("fix add", taken={"fix-add", "fix-add-2"}) == "fix-add-3"
    assert derive("fix add", taken={"fix-add-2"}) == "fix-add"


def test_derive_caps_length_at_word_boundaries_leaving_room_for_a_suffix() -> None:
    task = " ".join(f"word{i}" for i in range(40))
    slug = derive(task)
    assert len(slug) <= MAX_LENGTH - 3
    assert task.replace(" ", "-").startswith(slug + "-")  # cut between words, not inside one
    suffixed = derive(task, taken={slug})
    assert suffixed == f"{slug}-2"
    assert len(suffixed) <= MAX_LENGTH


def test_derive_truncates_a_single_overlong_word() -> None:
    slug = derive("x" * 80)
    assert slug == "x" * (MAX_LENGTH - 3)


def test_derive_always_returns_a_valid_slug_even_with_many_taken() -> None:
    base = derive("x" * 80)
    taken = {base} | {f"{base}-{n}" for n in range(2, 100)}
    slug = derive("x" * 80, taken=taken)
    assert slug not in taken
    assert validate(slug) == slug
    assert slug.endswith("-100") and len(slug) == MAX_LENGTH
