"""Webhooks: endpoints other systems register, and the signed deliveries of order events to them."""
