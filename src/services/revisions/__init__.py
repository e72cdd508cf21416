"""Revision history of scene asset instances: reading it, undo, pushing a fix forward
(docs/revisions.md)."""
