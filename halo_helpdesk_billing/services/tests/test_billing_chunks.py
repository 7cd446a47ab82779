"""Chunks of a billing run: whole customers, bounded by charges, in the given order."""

import pytest
from _loader import load_service

bc = load_service("billing_chunks")


def test_customers_fill_chunks_up_to_the_bound():
    # 3 + 4 = 7 <= 8, adding 2 would make 9: a new chunk
    assert bc.plan([(1, 3), (2, 4), (3, 2), (4, 6)], 8) == [([1, 2], 7), ([3, 4], 8)]


def test_a_big_customer_is_a_chunk_of_its_own_and_never_split():
    assert bc.plan([(1, 2), (2, 50), (3, 1)], 10) == [([1], 2), ([2], 50), ([3], 1)]


def test_customers_without_charges_are_left_out():
    assert bc.plan([(1, 0), (2, 5), (3, -1)], 10) == [([2], 5)]
    assert bc.plan([], 10) == []


def test_every_customer_once_and_totals_kept():
    counts = [(customer, (customer * 37) % 113 + 1) for customer in range(1, 501)]
    chunks = bc.plan(counts, 1000)
    assert [c for customers, _size in chunks for c in customers] == list(range(1, 501))
    assert sum(size for _customers, size in chunks) == sum(count for _c, count in counts)
    assert all(size <= 1000 for _customers, size in chunks)


def test_bound_must_be_positive():
    with pytest.raises(ValueError):
        bc.plan([(1, 1)], 0)
