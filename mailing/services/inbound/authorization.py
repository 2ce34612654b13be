"""Who may post: a chain of small rules, each returning a verdict and its reason (Mailman's rules/chains).

The chain stops at the first rule that decides; rules that pass add their reason to the record, so
InboundMessage.decision_reasons tells the whole story.

Policy (RELIABILITY.md, "Senders are who they say"): a post is distributed only when its From is a
registered sender AND authenticated (DMARC-aligned SPF or DKIM pass), whatever the domain publishes.
- explicit DMARC failure (domain publishes p=quarantine/reject, nothing aligned): rejected, never held,
  because a moderator must not be asked to release mail its own domain disowns;
- From not registered: rejected;
- registered but unauthenticated (e.g. an unsigned `From: sender@gmail.com` from an unknown host while
  the domain publishes p=none or nothing): held for moderation, unless the list sets
  posts_require_authentication, which turns "held" into "rejected".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from mailing.models import MailingList, Sender, address_normalize
from mailing.services.inbound.authentication import AuthenticationResult
from mailing.services.inbound.parse import ParsedMessage

DISTRIBUTE = "distribute"
HOLD = "hold"
REJECT = "reject"
CONTINUE = "continue"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    verdict: str  # continue | distribute | hold | reject
    reason: str

    def as_record(self) -> dict:
        return {"rule": self.rule, "result": self.verdict, "reason": self.reason}


@dataclass(frozen=True)
class PostContext:
    mailing_list: MailingList
    parsed: ParsedMessage
    authentication: AuthenticationResult


class Rule(Protocol):
    name: str

    def evaluate(self, context: PostContext) -> RuleResult: ...


class FromPresentRule:
    name = "from-present"

    def evaluate(self, context: PostContext) -> RuleResult:
        if not context.parsed.from_address:
            return RuleResult(self.name, REJECT, "no single readable From address")
        return RuleResult(self.name, CONTINUE, f"From: {context.parsed.from_address}")


class DmarcFailRule:
    name = "dmarc"

    def evaluate(self, context: PostContext) -> RuleResult:
        auth = context.authentication
        if auth.dmarc_fail:
            return RuleResult(
                self.name,
                REJECT,
                f"{auth.from_domain} publishes DMARC p={auth.dmarc.policy} and neither SPF nor DKIM passed aligned",
            )
        policy = f"p={auth.dmarc.policy}" if auth.dmarc.found else "no DMARC record"
        return RuleResult(self.name, CONTINUE, f"{auth.from_domain}: {policy}")


class RegisteredSenderRule:
    name = "registered-sender"

    def evaluate(self, context: PostContext) -> RuleResult:
        registered = Sender.objects.filter(
            mailing_list=context.mailing_list, address_normalized=address_normalize(context.parsed.from_address)
        ).exists()
        if not registered:
            return RuleResult(self.name, REJECT, f"{context.parsed.from_address} is not a registered sender")
        return RuleResult(self.name, CONTINUE, f"{context.parsed.from_address} is a registered sender")


class AuthenticatedRule:
    name = "authenticated"

    def evaluate(self, context: PostContext) -> RuleResult:
        auth = context.authentication
        if auth.from_authenticated:
            how = "DKIM" if auth.dkim_aligned else "SPF"
            return RuleResult(self.name, DISTRIBUTE, f"From authenticated by aligned {how} pass")
        detail = f"SPF {auth.spf_result} for {auth.spf_domain or '-'}, DKIM pass for {auth.dkim_pass_domains or 'none'}"
        if context.mailing_list.posts_require_authentication:
            return RuleResult(self.name, REJECT, f"list requires authenticated posts; {detail}")
        return RuleResult(self.name, HOLD, f"registered From not authenticated ({detail}); held for a moderator")


DEFAULT_CHAIN: tuple[Rule, ...] = (FromPresentRule(), DmarcFailRule(), RegisteredSenderRule(), AuthenticatedRule())


def post_authorize(context: PostContext, chain: tuple[Rule, ...] | None = None) -> tuple[str, list[dict]]:
    """Run the chain; return the decision (distribute | hold | reject) and every rule's reason."""
    reasons: list[dict] = []
    for rule in DEFAULT_CHAIN if chain is None else chain:
        result = rule.evaluate(context)
        reasons.append(result.as_record())
        if result.verdict != CONTINUE:
            return result.verdict, reasons
    return HOLD, [*reasons, {"rule": "chain", "result": HOLD, "reason": "no rule decided"}]


# What a moderator reads about why a post waits (in their language); the rule's own reason follows as
# labelled technical detail. Every rule that can answer HOLD has an entry.
HOLD_EXPLANATIONS = {
    "authenticated": _(
        "The sender's address is registered for this list, but this mail could not be proven to come from "
        "it: the sender's domain did not confirm it (SPF or DKIM). Anybody can write any sender address, "
        "so please check that the post is genuine."
    ),
    "chain": _("No rule decided about this post, so a person has to."),
}


def hold_explanation(reasons: list[dict]) -> str:
    """The moderator's explanation of a HOLD decision (the last reason is the rule that decided)."""
    rule = reasons[-1].get("rule", "") if reasons else ""
    return str(HOLD_EXPLANATIONS.get(rule, HOLD_EXPLANATIONS["chain"]))
