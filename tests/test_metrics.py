"""The books of one run: outcomes and the rates made from them."""

import math

from exsim.metrics import Outcomes


def test_misdelivered_is_a_failure_beside_the_ndrs():
    books = Outcomes(recipients=200, delivered=150, misdelivered=10, ndr=30)
    assert books.pending == 10  # 200 - 150 - 10 - 30
    assert books.failure_rate == 0.2  # (30 + 10) / 200
    assert books.ndr_rate == 0.15
    assert books.misdelivery_rate == 0.05
    assert math.isclose(books.ndr_rate + books.misdelivery_rate, books.failure_rate)


def test_rates_of_no_recipients_are_undefined():
    books = Outcomes()
    assert math.isnan(books.failure_rate)
    assert math.isnan(books.ndr_rate)
    assert math.isnan(books.misdelivery_rate)
