"""Persisted queries, as Apollo's automatic persisted queries (APQ) define them: a client sends the
sha256 of a document instead of the document.

A request names its document in `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`.
With the document beside it, the hash is checked and the document registered: in Redis, shared by
every API process (for `TTL_SECONDS`), and in this process. Without it, a registered document is
used; an unknown hash is answered with the error `PersistedQueryNotFound`
(`extensions.code` `PERSISTED_QUERY_NOT_FOUND`), on which the APQ links of Apollo Client, urql and
others resend the request with its document. By hash, a query also travels as
`GET /graphql?extensions=…&variables=…`, a URL an HTTP cache can key on.

What a hash saves: the document's bytes on the wire and its parsing (validation was already cached,
graph/schema.py); a document the cached-read fast path can answer (graph/fastpath.py) is recognised
by its hash without reading it.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping

from domain.errors import DomainError, ErrorKind
from edge.resources import Resources

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
# Apollo's clients look for this message (older ones) or the code above.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
# A day: a deploy's frontend registers its documents again within seconds of needing them.
TTL_SECONDS = 86_400
# A registered document is bounded: the store is open to every client, as APQ's is.
MAX_DOCUMENT_CHARS = 16_384
# Documents this process keeps parsed-free lookups for (least recently used go first).
LOCAL_DOCUMENTS = 1_000

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryNotFound(Exception):
    """The hash names no registered document (the client resends it with its document)."""


class PersistedQueryRefused(DomainError):
    """`extensions.persistedQuery` is malformed, or does not match the document sent with it."""

    kind = ErrorKind.BAD_INPUT
    reason = "PERSISTED_QUERY_REFUSED"


def requested_digest(extensions: Mapping[str, object] | None) -> str | None:
    """The sha256 (lowercase hex) a request's extensions name; None when they name none."""
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        msg = 'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<64 hex digits>"}'
        raise PersistedQueryRefused(msg)
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        msg = "extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits"
        raise PersistedQueryRefused(msg)
    return digest


class PersistedQueries:
    """The registered documents: Redis for every process, and the ones this process has used."""

    def __init__(self) -> None:
        self._local: OrderedDict[str, str] = OrderedDict()

    def local(self, digest: str) -> str | None:
        """The document, if this process has registered or used it (no I/O)."""
        document = self._local.get(digest)
        if document is not None:
            self._local.move_to_end(digest)
        return document

    async def document(self, *, digest: str, query: str | None, resources: Resources) -> str:
        """The document `digest` names: `query` once its hash is checked (and then registered), or
        the registered one; `PersistedQueryNotFound` if there is none. Without Redis (down, slow)
        nothing is shared: the client sends the document again, nothing is lost."""
        redis, breaker = resources.redis, resources.redis_breaker
        key = f"{resources.settings.redis.key_prefix}graphql:persisted:{digest}"
        if query is not None:
            if hashlib.sha256(query.encode()).hexdigest() != digest:
                msg = "extensions.persistedQuery.sha256Hash is not the sha256 of the query sent"
                raise PersistedQueryRefused(msg)
            if len(query) > MAX_DOCUMENT_CHARS:
                msg = f"A persisted query is at most {MAX_DOCUMENT_CHARS:,} characters"
                raise PersistedQueryRefused(msg)

            async def register() -> None:
                await redis.set(key, query, ex=TTL_SECONDS)

            await breaker.call(register, fallback=None, what="persisted query registration")
            self._remember(digest, query)
            return query
        document = self.local(digest)
        if document is not None:
            return document

        async def look_up() -> bytes | str | None:
            found: bytes | str | None = await redis.get(key)
            return found

        stored = await breaker.call(look_up, fallback=None, what="persisted query lookup")
        if stored is None:
            raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
        document = stored.decode() if isinstance(stored, bytes) else stored
        self._remember(digest, document)
        return document

    def _remember(self, digest: str, document: str) -> None:
        self._local[digest] = document
        self._local.move_to_end(digest)
        if len(self._local) > LOCAL_DOCUMENTS:
            self._local.popitem(last=False)
