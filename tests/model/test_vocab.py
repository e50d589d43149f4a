from hypothesis import given
from hypothesis import strategies as st
from ner_inference.builtin.vocab import bigrams, normalize_char


@given(st.characters())
def test_normalisation_maps_one_character_to_one_key(ch: str) -> None:
    assert len(normalize_char(ch)) == 1


def test_full_width_and_digits_fold() -> None:
    assert normalize_char("Ａ") == "a"
    assert normalize_char("９") == "0"
    assert normalize_char("\u200b") == " "


def test_bigrams_have_boundaries_on_both_sides() -> None:
    assert bigrams(["a", "b"]) == ["<s>a", "ab", "b<s>"]
