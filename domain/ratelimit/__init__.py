"""Rate limiting, the one place to read it: the rules and the fixed-window counter in Redis that every
process shares (limiter.py), and spending a budget with the error past it (budget.py).

Who spends: the REST routes' dependencies (api/ratelimit.py), GraphQL's context and cost rules
(graph/context.py, graph/cost.py), logins per account and device (domain/users/service.py), and the
cached read, which checks its limit and reads the order in one Redis round trip
(edge/order_cache.CountedOrderCache). The answer's `X-RateLimit-*` and `Retry-After` headers, the same
on both interfaces, come from edge/ratelimit.py.
"""
