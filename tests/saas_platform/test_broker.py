"""Idle workers poll the queues a post waits on often and every other queue rarely."""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq

from saas_platform.broker import PlatformRedisBroker, broker_setup


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


def test_a_consumer_with_every_slot_taken_fetches_as_soon_as_one_is_freed(settings):
    """A fan-out's next batch starts when the previous one is acknowledged, not a poll later."""
    settings.DRAMATIQ_IDLE_POLL_MS = 5000
    # A broker of its own (own Redis namespace): no worker of another test can take its messages.
    broker = PlatformRedisBroker(url=settings.REDIS_URL, namespace=f"test-prompt-{uuid.uuid4().hex}")
    queue = "probe"
    broker.declare_queue(queue)
    for number in (1, 2):
        broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="probe", args=(number,), kwargs={}, options={}))
    consumer = broker.consume(queue, prefetch=1, timeout=5000)
    first = next(consumer)
    assert first.args == (1,)
    received: list[tuple[float, dramatiq.MessageProxy]] = []
    deadline = time.monotonic() + 15

    def consume_until_second() -> None:
        while not received and time.monotonic() < deadline:
            message = next(consumer)  # None after each wait while the only slot is taken
            if message is not None:
                received.append((time.monotonic(), message))

    waiter = threading.Thread(target=consume_until_second, daemon=True)
    waiter.start()
    time.sleep(2.5)  # the consumer's backoff grows meanwhile (5 ms doubling, up to 5 s)
    acked_at = time.monotonic()
    consumer.ack(first)
    waiter.join(timeout=15)
    try:
        [(arrived_at, second)] = received
        assert second.args == (2,)
        assert arrived_at - acked_at < 0.3  # dramatiq's own consumer: the rest of a 1.3-5 s backoff
        consumer.ack(second)
    finally:
        consumer.close()
        broker.flush_all()
        broker.close()
