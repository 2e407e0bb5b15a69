"""The fuzzing fixture (tests/support/fuzzing.py): a real API process for tests/api/test_fuzz.py."""

from tests.support.fuzzing import fuzz_target

__all__ = ["fuzz_target"]
