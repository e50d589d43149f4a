import numpy as np
from ner_inference.builtin.lexicon import POS_GROUPS, POSITIONS, Lexicon, jieba_lexicon


def _brute(lexicon: Lexicon, text: str) -> np.ndarray:
    """Every substring checked: what the prefix-pruned scan must reproduce."""
    saved = lexicon.prefixes
    lexicon.prefixes = {text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1)}
    try:
        return lexicon.features(text)
    finally:
        lexicon.prefixes = saved


def test_place_names_light_up_place_features() -> None:
    lexicon = Lexicon.from_lines(["北京 100 ns", "北京大学 50 nt", "京 10 ns"])
    grid = lexicon.features("在北京大学").reshape(5, len(POSITIONS), len(POS_GROUPS))
    ns, nt = POS_GROUPS.index("ns"), POS_GROUPS.index("nt")
    b, m, e, s = range(4)
    assert grid[1, b, ns] > 0 and grid[2, e, ns] > 0  # 北京
    assert grid[1, b, nt] > 0 and grid[2, m, nt] > 0 and grid[4, e, nt] > 0  # 北京大学
    assert grid[2, s, ns] > 0  # 京
    assert not grid[0].any()  # 在 is not in this lexicon


def test_pruned_scan_equals_exhaustive_scan() -> None:
    lexicon = jieba_lexicon()
    for text in ["中华人民共和国国务院总理李克强", "abc北京😀大学\n", "清华大学出版社出版"]:
        assert np.array_equal(lexicon.features(text), _brute(lexicon, text))
