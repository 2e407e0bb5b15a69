"""Keys this service adds to an ASGI request's scope."""

# The route template of a request answered below the router (the fast paths: api/fastpath.py,
# graph/fastpath.py), for what the router would have left in `scope["route"]`: the metrics'
# label and the HTTP span's name.
ROUTE_TEMPLATE = "orders.route_template"

# The request's id (its X-Request-ID, accepted or made by the edge middleware), for the answers made
# outside the middleware that set it (the last-resort 500) as well as inside.
REQUEST_ID = "orders.request_id"
