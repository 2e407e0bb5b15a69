"""GraphQL entrypoint: the Strawberry schema."""
