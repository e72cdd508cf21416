"""Persisted documents: Apollo's automatic persisted queries, and trusted documents only.

- APQ: a request may carry `extensions.persistedQuery = {version: 1, sha256Hash}`. With its
  query, the hash must be the query's sha256 (else BAD_REQUEST) and the document is
  remembered (a bounded LRU cache per process); without it, a remembered hash runs its
  document and an unknown one answers PERSISTED_QUERY_NOT_FOUND, which makes Apollo Client
  send the query again.
- Trusted documents (`CONTINUITY_TRUSTED_DOCUMENTS=FILE`): the manifest, a JSON object of
  `sha256:<hex>` or `<hex>` keys and documents (GraphQL Codegen's client preset, Relay), is the
  only source of documents. A request names one by `documentId` (with or without `sha256:`), by
  `extensions.persistedQuery.sha256Hash`, or sends it in full; anything else is refused with
  PERSISTED_QUERY_NOT_FOUND before authentication and before any SQL.
Both refusals are request errors (docs/operations.md, Persisted documents).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
# Apollo Client's persisted-query link retries with the query on this exact message.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
_HEX = re.compile(r"[0-9a-f]{64}")


class DocumentRefused(Exception):
    """A request error: answered 200 in application/json, 400 in graphql-response+json."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def _hash_of_id(document_id: str) -> str | None:
    key = document_id[len("sha256:"):] if document_id.startswith("sha256:") else document_id
    key = key.lower()
    return key if _HEX.fullmatch(key) else None


def load_manifest(path: Path) -> dict[str, str]:
    """hex sha256 -> document. A key that is not its document's sha256 stops the start."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"CONTINUITY_TRUSTED_DOCUMENTS: cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"CONTINUITY_TRUSTED_DOCUMENTS: {path} must hold a JSON object of hashes and documents")
    documents: dict[str, str] = {}
    for key, document in data.items():
        digest = _hash_of_id(str(key))
        if digest is None or not isinstance(document, str):
            raise ValueError(f"CONTINUITY_TRUSTED_DOCUMENTS: {key!r} is not a sha256 key of a document")
        if sha256(document) != digest:
            raise ValueError(f"CONTINUITY_TRUSTED_DOCUMENTS: {key!r} is not the sha256 of its document")
        documents[digest] = document
    return documents


class Documents:
    def __init__(self, trusted: Mapping[str, str] | None, cache_size: int) -> None:
        self.trusted = dict(trusted) if trusted is not None else None
        self.cache_size = cache_size
        self._cache: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Any) -> Documents:
        path = settings.trusted_documents
        return cls(load_manifest(path) if path is not None else None, settings.persisted_query_cache_size)

    @property
    def trusted_only(self) -> bool:
        return self.trusted is not None

    def _known(self, digest: str) -> str | None:
        if self.trusted is not None:
            return self.trusted.get(digest)
        document = self._cache.get(digest)
        if document is not None:
            self._cache.move_to_end(digest)
        return document

    def _remember(self, digest: str, document: str) -> None:
        if self.trusted is not None:
            return
        self._cache[digest] = document
        self._cache.move_to_end(digest)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def resolve(self, query: Any, document_id: Any, extensions: Any) -> str | None:
        """The document to run; None when the request names none (the caller reports it)."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if query is not None and not isinstance(query, str):
            return query  # the caller's own checks refuse it
        query = query or None
        if document_id is not None:
            digest = _hash_of_id(document_id) if isinstance(document_id, str) else None
            document = self._known(digest) if digest is not None else None
            if document is None:
                raise DocumentRefused(NOT_FOUND_CODE, NOT_FOUND_MESSAGE)
            return document
        if persisted is not None:
            if not isinstance(persisted, dict) or persisted.get("version") != 1:
                raise DocumentRefused("BAD_REQUEST", "extensions.persistedQuery must be {version: 1, sha256Hash}.")
            given = persisted.get("sha256Hash")
            digest = given.lower() if isinstance(given, str) and _HEX.fullmatch(given.lower()) else None
            if digest is None:
                raise DocumentRefused("BAD_REQUEST", "extensions.persistedQuery.sha256Hash must be 64 hex digits.")
            if query is None:
                document = self._known(digest)
                if document is None:
                    raise DocumentRefused(NOT_FOUND_CODE, NOT_FOUND_MESSAGE)
                return document
            if sha256(query) != digest:
                raise DocumentRefused("BAD_REQUEST", "provided sha256Hash does not match query")
            if self.trusted is not None and digest not in self.trusted:
                raise DocumentRefused(NOT_FOUND_CODE, NOT_FOUND_MESSAGE)
            self._remember(digest, query)
            return query
        if self.trusted is not None and (query is None or sha256(query) not in self.trusted):
            raise DocumentRefused(NOT_FOUND_CODE, NOT_FOUND_MESSAGE)
        return query
