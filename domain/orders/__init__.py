"""Orders: creation, status rules, reading through the cache, listing."""
