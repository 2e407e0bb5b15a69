"""Infrastructure shared by every process: settings, database, Redis, AMQP, taskiq, metrics, logs.

The bottom layer: it knows nothing of the domain or of any entrypoint.
"""
