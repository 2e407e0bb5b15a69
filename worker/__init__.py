"""taskiq worker entrypoint: background order processing."""
