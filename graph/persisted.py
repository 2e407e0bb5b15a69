"""Persisted queries, as Apollo's automatic persisted queries (APQ) define them: a client sends the
sha256 of a document instead of the document.

A request names its document in `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`.
With the document beside it, the hash is checked and the document registered, if it parses,
validates and is priced within the limits a document sent in full must meet (a registration spends
one more unit of the caller's rate limit): in Redis, shared by every API process (for `TTL_SECONDS`),
and in this process, each holding at most GRAPHQL_PERSISTED_MAX_DOCUMENTS (the least recently used
go first). An unparsable or invalid document is answered as usual and stored nowhere. Without it, a registered document is
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
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from domain.errors import DomainError, ErrorKind
from edge.resources import Resources
from graph.cost import measure

logger = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
# Apollo's clients look for this message (older ones) or the code above.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
# A day: a deploy's frontend registers its documents again within seconds of needing them.
TTL_SECONDS = 86_400
# A registered document is bounded: the store is open to every client, as APQ's is.
MAX_DOCUMENT_CHARS = 16_384

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


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """What a document must pass to be registered: what one sent in full must pass to run."""

    schema: GraphQLSchema
    rules: Sequence[type[ASTValidationRule]]
    max_tokens: int
    max_cost: int

    def refusal(self, query: str) -> str | None:
        """Why `query` may not be registered (it does not parse, is invalid or costs too much);
        None when it may. Execution reports the same problems to the client in its own terms."""
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as exc:
            return f"does not parse: {exc.message}"
        errors = validate(self.schema, document, [*specified_rules, *self.rules])
        if errors:
            return f"is invalid: {errors[0].message}"
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                name = definition.name.value if definition.name else None
                cost = measure(self.schema, document, name, None, ceiling=self.max_cost).cost
                if cost > self.max_cost:
                    return f"costs {cost}, over {self.max_cost}"
        return None


# Registers a document and keeps the index of registered hashes (a sorted set scored by last use)
# within its bound, dropping the least recently used documents with their keys, in one round trip.
_REGISTER = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if extra > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[2], extra)
  for i = 1, #gone, 2 do
    redis.call('DEL', ARGV[6] .. gone[i])
  end
end
return extra
"""
# Reads a document and marks it used (only if it is still in the index).
_LOOK_UP = """
local document = redis.call('GET', KEYS[1])
if document then
  redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
end
return document
"""


class PersistedQueries:
    """The registered documents: Redis for every process, and the ones this process has used; each
    holds at most `max_documents` (GRAPHQL_PERSISTED_MAX_DOCUMENTS), the least recently used going
    first. A document is registered only once it parses, validates and is priced within `limits`."""

    def __init__(self, *, limits: DocumentLimits, max_documents: int) -> None:
        self._limits = limits
        self._max_documents = max_documents
        self._local: OrderedDict[str, str] = OrderedDict()

    def local(self, digest: str) -> str | None:
        """The document, if this process has registered or used it (no I/O)."""
        document = self._local.get(digest)
        if document is not None:
            self._local.move_to_end(digest)
        return document

    async def document(
        self,
        *,
        digest: str,
        query: str | None,
        resources: Resources,
        before_registering: Callable[[], Awaitable[None]],
    ) -> str:
        """The document `digest` names: `query` once its hash is checked (and then registered, if
        it passes the limits, after `before_registering`, which spends the caller's rate limit), or
        the registered one; `PersistedQueryNotFound` if there is none. Without Redis (down, slow)
        nothing is shared: the client sends the document again, nothing is lost."""
        if query is None:
            return self.local(digest) or await self._look_up(digest, resources)
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            msg = "extensions.persistedQuery.sha256Hash is not the sha256 of the query sent"
            raise PersistedQueryRefused(msg)
        if len(query) > MAX_DOCUMENT_CHARS:
            msg = f"A persisted query is at most {MAX_DOCUMENT_CHARS:,} characters"
            raise PersistedQueryRefused(msg)
        if digest in self._local:
            self._local.move_to_end(digest)
            return query
        refusal = self._limits.refusal(query)
        if refusal is not None:
            # Not stored; execution answers the document's problem as for any document.
            logger.info("persisted query %s not registered: it %s", digest[:12], refusal)
            return query
        await before_registering()
        await self._register(digest, query, resources)
        return query

    async def _register(self, digest: str, query: str, resources: Resources) -> None:
        prefix = _key_prefix(resources)

        async def register() -> None:
            await resources.redis.eval(
                _REGISTER,
                2,
                f"{prefix}{digest}",
                f"{prefix}index",
                query,
                TTL_SECONDS,
                time.time(),
                digest,
                self._max_documents,
                prefix,
            )

        await resources.redis_breaker.call(
            register, fallback=None, what="persisted query registration"
        )
        self._remember(digest, query)

    async def _look_up(self, digest: str, resources: Resources) -> str:
        prefix = _key_prefix(resources)

        async def look_up() -> bytes | str | None:
            found: bytes | str | None = await resources.redis.eval(
                _LOOK_UP, 2, f"{prefix}{digest}", f"{prefix}index", time.time(), digest
            )
            return found

        stored = await resources.redis_breaker.call(
            look_up, fallback=None, what="persisted query lookup"
        )
        if stored is None:
            raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
        document = stored.decode() if isinstance(stored, bytes) else stored
        self._remember(digest, document)
        return document

    def _remember(self, digest: str, document: str) -> None:
        self._local[digest] = document
        self._local.move_to_end(digest)
        while len(self._local) > self._max_documents:
            self._local.popitem(last=False)


def _key_prefix(resources: Resources) -> str:
    return f"{resources.settings.redis.key_prefix}graphql:persisted:"
