"""What the model learns from: links with their separators, escaped quotes, reply addresses."""

from __future__ import annotations

import pytest

from corpora.cleaning import CleanOptions, clean
from corpora.records import RawTweet


def clean_text(text: str, options: CleanOptions) -> str:
    """One tweet's text as cleaning keeps it."""
    [kept], _ = clean([RawTweet(text)], options)
    return kept.text


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Great talk - https://t.co/abc", "Great talk"),
        ("Watch this: https://t.co/x and more", "Watch this and more"),
        ("New video | http://t.co/a https://t.co/b", "New video"),
        ("So good \u2014 https://t.co/a #tesla", "So good #tesla"),
        ("Wait for it... https://t.co/q", "Wait for it..."),
        ("Hi, https://a.b", "Hi"),
    ],
)
def test_a_stripped_link_takes_its_separator_along(raw: str, cleaned: str) -> None:
    assert clean_text(raw, CleanOptions()) == cleaned


def test_backslash_escaped_quotes_from_csv_exports_are_decoded() -> None:
    assert clean_text(r"That\'s what he said: \"go\"", CleanOptions()) == 'That\'s what he said: "go"'


def test_the_mentions_opening_a_reply_go_and_the_sentence_stays() -> None:
    text = "@verge @mims It won't matter, ask @bob"
    assert clean_text(text, CleanOptions()) == "It won't matter, ask @bob"
    assert clean_text(text, CleanOptions(strip_reply_address=False)) == text
    assert clean_text(text, CleanOptions(strip_mentions=True)) == "It won't matter, ask"


def test_cleaning_keeps_the_raw_hash_and_drops_what_becomes_empty() -> None:
    kept, report = clean([RawTweet("@a @b"), RawTweet("Ok then - https://t.co/x")], CleanOptions())
    assert [t.text for t in kept] == ["Ok then"]
    assert kept[0].raw_hash is not None and report.dropped == {"empty": 1}
