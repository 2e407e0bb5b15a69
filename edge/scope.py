"""Keys this service adds to an ASGI request's scope."""

# The route template of a request answered below the router (the fast paths: api/fastpath.py,
# graph/fastpath.py), for what the router would have left in `scope["route"]`: the metrics'
# label and the HTTP span's name.
ROUTE_TEMPLATE = "orders.route_template"
