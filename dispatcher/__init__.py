"""The `webhooks` process: order events from RabbitMQ → signed deliveries to webhook endpoints."""
