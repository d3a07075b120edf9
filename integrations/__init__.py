"""Integrations: the audit stream's events delivered to webhooks, REST APIs, EventBridge buses and SQS/SNS.

`models.py` (what an integration is, pydantic), `registry.py` (integrations in the shared store: CRUD, secrets,
the state machine, health check claims and results).
"""
