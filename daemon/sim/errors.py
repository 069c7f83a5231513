"""The one error the exchange core raises: an HTTP status, Pacifica's text and a code."""

from __future__ import annotations


class ExchangeError(Exception):
    """A refused request, rendered as `{"success":false,"data":null,"error":..,"code":..}`.

    `code` is Pacifica's business code where one is documented (36 duplicate cloid, 37 unused
    cloid, 5 insufficient balance, ...); otherwise the HTTP status is repeated.
    """

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = status if code is None else code


def bad_request(message: str) -> ExchangeError:
    return ExchangeError(400, message)


def business(message: str, code: int | None = None) -> ExchangeError:
    """An engine refusal of a well-formed request (HTTP 422)."""
    return ExchangeError(422, message, code)
