import numpy as np
import pytest

from skclean.oracles import (
    ConsoleOracle,
    MajorityVoteOracle,
    OracleError,
    SimulatedOracle,
    query_oracle,
)


@pytest.fixture
def data(rng):
    X = rng.randn(40, 3)
    y = rng.randint(0, 3, 40)
    return X, y


def test_simulated_oracle_finds_rows_by_content(data, rng):
    X, y = data
    o = SimulatedOracle(X, y)
    perm = rng.permutation(40)
    np.testing.assert_array_equal(o(X[perm], np.zeros(40, int)), y[perm])
    # rows that went through float32 (a torch model's dtype) still match
    np.testing.assert_array_equal(o(X[perm].astype(np.float32), y[perm]), y[perm])
    with pytest.raises(KeyError, match="not among"):
        o(X[:2] + 1.0, y[:2])


def test_simulated_oracle_error_rate(rng):
    X = rng.randn(5000, 2)
    y = rng.randint(0, 4, 5000)
    answers = SimulatedOracle(X, y, error_rate=0.2, random_state=0)(X, y)
    wrong = np.mean(answers != y)
    assert 0.18 < wrong < 0.22
    again = SimulatedOracle(X, y, error_rate=0.2, random_state=0)(X, y)
    np.testing.assert_array_equal(answers, again)
    with pytest.raises(ValueError, match="error_rate"):
        SimulatedOracle(X, y, error_rate=1.5)


def test_query_oracle_validates_answers(data):
    X, y = data
    classes = np.array([0, 1, 2])
    np.testing.assert_array_equal(query_oracle(SimulatedOracle(X, y), X[:3], y[:3], classes),
                                  y[:3])

    def raises(X, y, **ctx):
        raise RuntimeError("annotator went home")

    with pytest.raises(OracleError, match="annotator went home"):
        query_oracle(raises, X[:3], y[:3], classes)
    with pytest.raises(OracleError, match="one label per queried row"):
        query_oracle(lambda X, y, **c: y[:2], X[:3], y[:3], classes)
    with pytest.raises(OracleError, match="unknown label"):
        query_oracle(lambda X, y, **c: np.array([0, 1, 9]), X[:3], y[:3], classes)

    def interrupted(X, y, **ctx):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        query_oracle(interrupted, X[:3], y[:3], classes)


def test_query_oracle_passes_context(data):
    X, y = data
    seen = {}

    def spy(X, y, **ctx):
        seen.update(ctx)
        return y

    query_oracle(spy, X[:2], y[:2], [0, 1, 2], role=["suspicious", "counterexample"])
    assert seen["role"] == ["suspicious", "counterexample"]
    np.testing.assert_array_equal(seen["classes"], [0, 1, 2])


def test_majority_vote(data):
    X, y = data
    a = lambda X, y, **c: np.array([0, 1, 2])  # noqa: E731
    b = lambda X, y, **c: np.array([0, 2, 1])  # noqa: E731
    c = lambda X, y, **c: np.array([1, 2, 0])  # noqa: E731
    np.testing.assert_array_equal(MajorityVoteOracle([a, b, c])(X[:3], y[:3]), [0, 2, 2])
    vote = MajorityVoteOracle([a, b])
    np.testing.assert_array_equal(vote(X[:3], np.array([9, 2, 2])), [0, 1, 2])  # first oracle wins
    keep = MajorityVoteOracle([a, b], tie_break="keep")
    np.testing.assert_array_equal(keep(X[:3], np.array([9, 2, 1])), [0, 2, 1])
    assert vote.last_votes_.shape == (3, 2)
    with pytest.raises(ValueError):
        MajorityVoteOracle([])


def test_console_oracle_reasks_on_typos():
    typed = iter(["cat", "2", "", "1"])
    printed = []
    o = ConsoleOracle(input_fn=lambda prompt: next(typed), print_fn=printed.append)
    out = o(np.zeros((3, 2)), np.array([0, 0, 0]), classes=np.array([0, 1, 2]),
            role=["suspicious", "counterexample", "candidate"], predicted=np.array([2, 1, 0]))
    np.testing.assert_array_equal(out, [2, 0, 1])
    assert any("'cat' is not a class" in line for line in printed)
    assert any("(counterexample)" in line for line in printed)
    assert any("predicted: 2" in line for line in printed)


def test_console_oracle_skip_accept_keep_and_end_of_input():
    from skclean.questions import SKIP, OracleStop

    typed = iter(["1", "skip", "", "keep"])
    printed = []
    o = ConsoleOracle(classes=["a", "b"], input_fn=lambda p: next(typed), print_fn=printed.append)
    out = o(np.zeros((3, 2)), np.array(["a", "a", "b"]), suggested=np.array(["b", "b", "a"]),
            row_ids=["r0", "r1", "r2"])
    # "1" is not a class here (re-asked); skip is no judgement; Enter accepts the suggestion
    assert out[0] is SKIP and out[1] == "b" and out[2] == "b"  # keep: current label
    assert any("row r1" in line for line in printed)
    assert any("suggested: b" in line and "proposes" in line for line in printed)

    out = ConsoleOracle(classes=["a", "b"], input_fn=lambda p: next(iter(["keep"])),
                        print_fn=printed.append)(np.zeros((1, 2)), np.array(["b"]),
                                                 suggested=np.array(["a"]))
    assert out.tolist() == ["b"]  # keep = the current label, not the suggestion

    def eof_after_one(seq=None):
        seq = iter(["b"]) if seq is None else seq
        def read(prompt):
            try:
                return next(seq)
            except StopIteration:
                raise EOFError from None
        return read

    o = ConsoleOracle(classes=["a", "b"], input_fn=eof_after_one(), print_fn=printed.append)
    with pytest.raises(OracleStop) as info:
        o(np.zeros((3, 2)), np.array(["a", "a", "a"]))
    assert list(info.value.answers[:1]) == ["b"] and info.value.answers[1] is SKIP
    assert any("End of input" in line for line in printed)


def test_simulated_oracle_over_a_list_of_texts_finds_rows_by_position():
    texts = ["a wrong label", "a right label", "another text"]
    oracle = SimulatedOracle(texts, ["x", "y", "x"])
    assert oracle(["another text", "a wrong label"], np.array(["y", "y"]),
                  row_ids=[2, 0]).tolist() == ["x", "x"]
