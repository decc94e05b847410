"""The project's own tests: `forge lab promote` runs them on the merged tree."""

from primes import count_primes, is_prime


def test_small_counts() -> None:
    assert [count_primes(n) for n in range(12)] == [0, 0, 0, 1, 2, 2, 3, 3, 4, 4, 4, 4]


def test_is_prime() -> None:
    assert [k for k in range(30) if is_prime(k)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert not is_prime(49) and not is_prime(91) and is_prime(97)
