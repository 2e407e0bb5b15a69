"""Webhook dispatcher entrypoint (the Procfile's `webhooks` process)."""

from dispatcher.main import main

main()
