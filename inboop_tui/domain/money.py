"""Money as people type it and read it; stored as integer minor units with an ISO-4217 code.

``parse_amount("1499.50", "INR")`` is 149950 paise; ``format_money(250, "KWD")`` is
``KWD 0.250``. Never a float: amounts are split as text and summed as integers.
"""

from __future__ import annotations

import re

from relay.protocol.plain import CURRENCY_DIGITS, MAX_AMOUNT

_AMOUNT = re.compile(r"^(\d{1,16})(?:\.(\d+))?$")


class MoneyError(ValueError):
    """An amount or currency a person typed that cannot be money; the message says why."""


def currency_of(text: str) -> str:
    code = text.strip().upper()
    if code not in CURRENCY_DIGITS:
        raise MoneyError(f"{text.strip()!r} is not a currency code (ISO 4217, like INR or USD)")
    return code


def minor_digits(currency: str) -> int:
    return CURRENCY_DIGITS[currency]


def parse_amount(text: str, currency: str) -> int:
    """``1499``, ``1499.5``, ``1,499.50`` → minor units; more decimals than the currency has,
    a sign or anything else is refused."""
    digits = minor_digits(currency)
    cleaned = text.strip().replace(",", "").replace("_", "")
    match = _AMOUNT.match(cleaned)
    if match is None:
        raise MoneyError(f"{text.strip()!r} is not an amount: write it like 1499 or 1499.50")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > digits:
        places = "no decimals" if digits == 0 else f"at most {digits} decimals"
        raise MoneyError(f"{currency} amounts take {places}: {text.strip()!r}")
    amount = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if amount > MAX_AMOUNT:
        raise MoneyError(f"{text.strip()!r} is too large an amount")
    return amount


def format_amount(amount: int, currency: str) -> str:
    """``149950, INR`` → ``1,499.50`` (the currency's own number of decimals)."""
    digits = minor_digits(currency) if currency in CURRENCY_DIGITS else 2
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    text = f"{whole:,}"
    if digits:
        text += "." + str(fraction).rjust(digits, "0")
    return sign + text


def format_money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return ""
    return f"{currency} {format_amount(amount, currency)}"


def plain_amount(amount: int, currency: str) -> str:
    """For exports: ``1499.50`` (no grouping), which spreadsheets read as a number."""
    return format_amount(amount, currency).replace(",", "")
