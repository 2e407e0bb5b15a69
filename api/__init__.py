"""REST entrypoint: the FastAPI application."""
