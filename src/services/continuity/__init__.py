"""The continuity report: warnings, shot readiness and tag suggestions read in SQL
(`report`), and the pure rules that word and order them (`rules`) (docs/continuity.md)."""
