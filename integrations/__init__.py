"""Integrations: the audit stream's events delivered to webhooks, REST APIs, EventBridge buses and SQS/SNS.

`models.py` (what an integration is, pydantic), `registry.py` (integrations in the shared store: CRUD, secrets,
the state machine, health check claims and results), `events.py` (audit record → events, and which integrations
take each), `writer.py` (the bounded queue to the outbox), `outbox.py` (events and deliveries in the store:
enqueue, claim, settle, replay), `worker.py` (the delivery worker), `network.py` (where traffic may go, and a
client that connects only there), `senders/` (one per type), `service.py` (all of it, as the server runs it).
"""
