import sys

from ner_inference.builtin.vocab import bigrams, normalize_char


def test_normalisation_maps_every_code_point_to_one_character() -> None:
    """Exhaustive, not sampled: "İ" (whose lower case has two characters) once slipped past
    a random sample and crashed a whole batch."""
    normalize = normalize_char.__wrapped__  # not through the cache: a million entries
    wrong = [hex(c) for c in range(sys.maxunicode + 1) if len(normalize(chr(c))) != 1]
    assert wrong == []


def test_full_width_and_digits_fold() -> None:
    assert normalize_char("Ａ") == "a"
    assert normalize_char("９") == "0"
    assert normalize_char("\u200b") == " "


def test_bigrams_have_boundaries_on_both_sides() -> None:
    assert bigrams(["a", "b"]) == ["<s>a", "ab", "b<s>"]
