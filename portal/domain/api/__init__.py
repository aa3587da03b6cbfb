"""The integration REST API's use cases: keys, idempotency, resources, webhooks."""
