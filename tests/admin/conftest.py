"""The pipeline fixtures (tests/support/pipeline.py), for the worker's retention schedule."""

from tests.support.pipeline import pipeline_env, pipeline_settings, processes, rabbitmq_url

__all__ = ["pipeline_env", "pipeline_settings", "processes", "rabbitmq_url"]
