"""The pipeline fixtures (tests/support/pipeline.py): the soak runs isolated like the tests."""

from tests.support.pipeline import pipeline_env, pipeline_settings, processes, rabbitmq_url

__all__ = ["pipeline_env", "pipeline_settings", "processes", "rabbitmq_url"]
