"""Event consumer entrypoint: reads new_order from RabbitMQ and enqueues taskiq tasks."""
