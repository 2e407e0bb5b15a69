"""Write the schema's SDL to graph/schema.graphql (`make schema`); a test fails when the two disagree.

The file is the contract frontends generate their types from, and a reviewer sees every change to it.
"""

from __future__ import annotations

from pathlib import Path

from graph.schema import create_schema
from graph.settings import GraphQLSettings

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


def schema_sdl() -> str:
    # The limits and the introspection switch change nothing in the SDL; the defaults will do.
    return create_schema(GraphQLSettings()).as_str() + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(schema_sdl())


if __name__ == "__main__":
    main()
