"""Events between processes: the transactional outbox (publisher side) and processed-event records."""
