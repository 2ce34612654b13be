"""Mail that must never be distributed or answered: loops, auto-replies, bounces (RFC 3834, Sympa #418)."""

from __future__ import annotations

from dataclasses import dataclass

from mailing.services.inbound.parse import ParsedMessage

X_LOOP_HEADER = "X-Loop"


def x_loop_value(list_address: str) -> str:
    """The X-Loop value our own list mail carries; seeing it come back means a loop."""
    return list_address.lower()


@dataclass(frozen=True)
class LoopVerdict:
    discard: bool
    reason: str


def loop_detect(*, parsed: ParsedMessage, envelope_from: str, list_address: str) -> LoopVerdict:
    """Decide whether a message to a list must be dropped before anything else looks at it."""
    own = x_loop_value(list_address)
    for value in parsed.headers(X_LOOP_HEADER):
        if value.strip().lower() == own:
            return LoopVerdict(True, f"X-Loop: {own} (our own list mail came back)")
    auto_submitted = parsed.header("Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return LoopVerdict(
            True, f"Auto-Submitted: {auto_submitted} (RFC 3834: automatic mail is not answered or posted)"
        )
    if not envelope_from:
        return LoopVerdict(True, "null envelope sender <> (a bounce or notification, RFC 5321 4.5.5)")
    precedence = parsed.header("Precedence").strip().lower()
    if precedence in {"bulk", "junk"}:
        return LoopVerdict(True, f"Precedence: {precedence} (automatic bulk mail, RFC 3834 5)")
    if parsed.header("List-Id") and parsed.header("List-Id").lower().find(own.replace("@", ".")) >= 0:
        return LoopVerdict(True, "List-Id of this list (our own list mail came back)")
    return LoopVerdict(False, "no loop or auto-reply markers")
