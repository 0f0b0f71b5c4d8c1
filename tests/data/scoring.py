"""A metric of one's own for tests/test_run_ids.py (its source is part of its runs' identity: do not edit)."""


def sqrt_l1(a):
    return a.sqrt() / a.sqrt().sum()
