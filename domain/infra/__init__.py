"""Infrastructure shared by every process: settings, database, Redis, AMQP, unit of work."""
