import numpy as np
from ner_inference.builtin.encoding import Encoder
from ner_inference.builtin.lexicon import POS_GROUPS, POSITIONS, Lexicon, jieba_lexicon
from ner_inference.builtin.network import WORD_SETS
from ner_inference.builtin.vocab import Vocab


def _brute(lexicon: Lexicon, text: str) -> np.ndarray:
    """Every substring looked up, no pruning: what the scan must reproduce."""
    width = len(POS_GROUPS)
    grid = np.zeros((len(text), len(POSITIONS) * width), dtype=np.float32)
    lowered = text.lower()
    for i in range(len(text)):
        for j in range(i + 1, len(text) + 1):
            hit = lexicon.words.get(lowered[i:j])
            if hit is None:
                continue
            group, weight = hit
            cells = (
                [(i, 3)]
                if j - i == 1
                else [(i, 0), (j - 1, 2), *((k, 1) for k in range(i + 1, j - 1))]
            )
            for k, position in cells:
                grid[k, position * width + group] = max(grid[k, position * width + group], weight)
    return grid


def test_place_names_light_up_place_features() -> None:
    lexicon = Lexicon.from_lines(["北京 100 ns", "北京大学 50 nt", "京 10 ns"])
    grid = lexicon.features("在北京大学").reshape(5, len(POSITIONS), len(POS_GROUPS))
    ns, nt = POS_GROUPS.index("ns"), POS_GROUPS.index("nt")
    b, m, e, s = range(4)
    assert grid[1, b, ns] > 0 and grid[2, e, ns] > 0  # 北京
    assert grid[1, b, nt] > 0 and grid[2, m, nt] > 0 and grid[4, e, nt] > 0  # 北京大学
    assert grid[2, s, ns] > 0  # 京
    assert not grid[0].any()  # 在 is not in this lexicon


def test_hashed_batch_scan_equals_exhaustive_scan() -> None:
    lexicon = jieba_lexicon()
    texts = ["中华人民共和国国务院总理李克强", "abc北京😀大学\n", "", "清华大学出版社出版", "京"]
    for text, grid in zip(texts, lexicon.features_many(texts), strict=True):
        assert np.array_equal(grid, _brute(lexicon, text))
        assert np.array_equal(lexicon.features(text), grid)


def _brute_word_sets(lexicon: Lexicon, words: Vocab, text: str) -> dict[tuple[int, int], float]:
    """(bag, word row) -> weight, by trying every substring."""
    found = {}
    for i in range(len(text)):
        for j in range(i + 2, len(text) + 1):
            word = text[i:j]
            row = words.index.get(word, 0)
            if word in lexicon.words and row:
                weight = lexicon.words[word][1]
                for k in range(i, j):
                    which = 0 if k == i else 2 if k == j - 1 else 1
                    found[(k * WORD_SETS + which, row)] = weight
    totals: dict[int, float] = {}
    for (bag, _), weight in found.items():
        totals[bag // WORD_SETS] = totals.get(bag // WORD_SETS, 0.0) + weight
    return {key: w / totals[key[0] // WORD_SETS] for key, w in found.items()}


def test_word_sets_hold_every_word_covering_a_character() -> None:
    lexicon = jieba_lexicon()
    words = Vocab(
        ["中华人民共和国", "中华", "人民", "共和国", "国务院", "总理", "北京", "大学", "北京大学"]
    )
    encoder = Encoder(Vocab(["中"]), Vocab([]), lexicon, words)
    texts = ["中华人民共和国国务院总理李克强", "abc北京😀大学\n", "", "北京大学", "京"]
    for text, encoded in zip(texts, encoder.encode_many(texts), strict=True):
        got = {
            (int(b), int(r)): float(w)
            for b, r, w in zip(
                encoded.word_bags, encoded.word_rows, encoded.word_weights, strict=True
            )
        }
        expected = _brute_word_sets(lexicon, words, text)
        assert got.keys() == expected.keys()
        assert all(abs(got[k] - expected[k]) < 1e-6 for k in got)
    [first] = encoder.encode_many(["北京大学"])
    # 北 starts 北京 and 北京大学: two words in its B set, and nothing else.
    assert sorted(first.word_rows[first.word_bags == 0]) == sorted(
        [words.index["北京"], words.index["北京大学"]]
    )
