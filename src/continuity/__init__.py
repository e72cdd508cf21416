"""Continuity: a GraphQL API server for an AI film-production pipeline."""
