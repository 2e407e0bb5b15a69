"""The outbox relay: moves committed outbox rows to RabbitMQ (runs inside the API process)."""
