"""RabbitMQ messaging: topology, confirmed publishing, typed idempotent consumers, outbox relay."""
