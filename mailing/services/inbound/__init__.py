"""The inbound path after the MX: one module per stage (Mailman's runners/rules/chains, STYLE.md).

receive      store what the MX accepted (the outbox), enqueue after commit
sweep        re-enqueue messages a crash left between commit and enqueue
parse        raw bytes -> ParsedMessage (charsets, multipart, attachments); never raises
loops        our own X-Loop, Auto-Submitted (RFC 3834), null sender: not distributed
authentication  SPF / DKIM / DMARC results for the From domain (dnspython, pyspf, dkimpy)
authorization   the rule chain that decides distribute / hold / reject, with reasons
disposition  acting on that decision; moderation approve / reject
membership   join / leave with confirmation links
bounces      VERP bounces -> Delivery + Member.bounce_score -> suspension
pipeline     the worker's entry point: attempts, quarantine, dispatch by kind
"""
