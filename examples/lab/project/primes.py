"""Count primes, slowly on purpose: the code the lab example's workers make faster."""


def is_prime(k: int) -> bool:
    """Is ``k`` prime? Trial division by every number below it."""
    if k < 2:
        return False
    for d in range(2, k):  # noqa: SIM110 (the slow loop is the point)
        if k % d == 0:
            return False
    return True


def count_primes(n: int) -> int:
    """How many primes are there below ``n``?"""
    return sum(1 for k in range(n) if is_prime(k))
