"""The transport contract: `send(batch, before_delivery) -> [Outcome]`, one outcome per
recipient; `close()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailing.sending.ledger import Recipient


@dataclass(frozen=True)
class Outcome:
    """What became of one recipient: sent (with the provider's id), retry or failed (why)."""

    recipient: Recipient
    status: str  # "sent", "retry" or "failed"
    message_id: str = ""
    reason: str = ""
    # The receiving server refused this recipient (SMTP 5xx at RCPT or DATA): a bounce.
    bounce: bool = False

    @classmethod
    def sent(cls, recipient: Recipient, message_id: str = "") -> Outcome:
        return cls(recipient, "sent", message_id=str(message_id or ""))

    @classmethod
    def retry(cls, recipient: Recipient, reason: str) -> Outcome:
        return cls(recipient, "retry", reason=reason)

    @classmethod
    def failed(cls, recipient: Recipient, reason: str, *, bounce: bool = False) -> Outcome:
        return cls(recipient, "failed", reason=reason, bounce=bounce)


class Transient(Exception):
    """Try again later (SMTP 4xx, ESP 429/5xx, lost connection)."""


class Permanent(Exception):
    """Do not try again for this recipient (SMTP 5xx, ESP refusal, a header it cannot carry)."""


class Rejected(Permanent):
    """The receiving server refused this recipient or its message (SMTP 5xx at RCPT or
    DATA): a synchronous bounce, classified and acted on by ``mailing.bounces``."""


class Fatal(Exception):
    """Nobody can be sent to as configured (the ESP refused our key, lacks a feature the
    campaign needs): the sender stops the campaign and shows this reason."""


def outcome(recipient: Recipient, error: Exception) -> Outcome:
    """The outcome a Transient or Permanent error stands for."""
    if isinstance(error, Transient):
        return Outcome.retry(recipient, str(error))
    return Outcome.failed(recipient, str(error), bounce=isinstance(error, Rejected))


def smtp_error(code: int, text, *, recipient: bool = False) -> Exception:
    """Transient for a 4xx; for a 5xx, Rejected when it answered the recipient or its
    message (``recipient``: RCPT or DATA), else Permanent (e.g. our MAIL FROM refused)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{code} {text}".strip()
    if 400 <= code < 500:
        return Transient(reason)
    return Rejected(reason) if recipient and 500 <= code < 600 else Permanent(reason)


def nothing_to_settle() -> None:
    pass


class Transport:
    """Sends batches of leased recipients; each transport builds, posts and parses.

    ``batch_size``: how many recipients one ``send`` takes at most. The sender records
    the outcomes as soon as ``send`` returns, so a transport that posts one message at
    a time keeps it at 1: a killed worker then repeats at most the message in flight.

    ``before_delivery``: called (any number of times) before anything of the batch can
    be delivered: before an API call, before an SMTP message's data (its envelope may go
    first). The sender passes the ledger's ``settle`` there, which waits until the
    previous batch's outcomes are written: the write overlaps this batch's preparation,
    never its delivery.
    """

    batch_size = 1

    def send(
        self, batch: list[Recipient], before_delivery: Callable[[], None] = nothing_to_settle
    ) -> list[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Close connections; the transport reopens them if it is used again."""
