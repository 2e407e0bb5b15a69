"""The fuzzing fixture (tests/support/fuzzing.py): a real API process for tests/api/test_fuzz.py;
the run's RabbitMQ vhost, for the readiness tests that run the outbox relay."""

from tests.support.fuzzing import fuzz_target
from tests.support.pipeline import rabbitmq_url

__all__ = ["fuzz_target", "rabbitmq_url"]
