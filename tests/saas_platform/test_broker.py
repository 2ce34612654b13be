"""Idle workers poll the queues a post waits on often and every other queue rarely."""

from __future__ import annotations

from saas_platform.broker import broker_setup


def test_prompt_queues_poll_often_and_the_others_rarely(settings):
    settings.DRAMATIQ_PROMPT_POLL_MS = 100
    settings.DRAMATIQ_IDLE_POLL_MS = 1000
    broker = broker_setup()
    for queue in ("inbound", "fanout_plan", "delivery"):
        consumer = broker.consume(queue, prefetch=2, timeout=1000)
        assert consumer.timeout == 100, queue
    for queue in ("notices", "console", "delivery.DQ", "default"):
        consumer = broker.consume(queue, prefetch=2, timeout=100)
        assert consumer.timeout == 1000, queue
