"""What the inbound MX asks of mailing, and all it may ask (.importlinter: inbound_mx imports this only).

- RCPT: `route_resolve(address)` -> the organization, list and kind of a recipient, or None (550).
- DATA: `inbound_messages_store(...)` stores the message once per recipient in one transaction and,
  after the commit, hands each to `enqueue` (by default `process_inbound_enqueue`, the processing job).
"""

from mailing.selectors.routes import Route, route_resolve
from mailing.services.inbound.receive import Enqueue, Envelope, inbound_messages_store, process_inbound_enqueue

__all__ = ["Enqueue", "Envelope", "Route", "inbound_messages_store", "process_inbound_enqueue", "route_resolve"]
