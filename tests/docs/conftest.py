"""A real API process for the documentation's walkthrough (the pipeline tests' harness)."""

from tests.support.pipeline import pipeline_env, processes, rabbitmq_url

__all__ = ["pipeline_env", "processes", "rabbitmq_url"]
