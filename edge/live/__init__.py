"""Live order events for both interfaces: the process's hub (`hub`), each subscriber's exact stream
(`changes`), and the merge of stored and live events by `seq` (`merge`)."""

from edge.live.changes import order_changes
from edge.live.hub import LiveHub, TooManyConnections

__all__ = ["LiveHub", "TooManyConnections", "order_changes"]
