"""The domain and its SQL, one package per domain; no GraphQL imports.

- `film`: projects, branches, scenes, shots, project assets, stages, chains, forks.
- `instances`: scene asset instances and how they inherit from scene to scene.
- `casting`: shot asset assignments, presence, frame references, shot prompts and frames.
- `images`: image jobs, the worker, providers, storage, job events.
- `revisions`: instance revision history, undo, pushing a fix forward.
- `continuity`: the continuity report, shot readiness, tag suggestions.
- `db`: the table catalogue, engine and unit of work, shared predicates, migrations.
- `core`: what every domain leans on and that knows no domain (auth, config, errors,
  validation, logs, metrics, request context).

Infrastructure lives in `core` rather than at the top of this package so that the top level
lists only packages: every import names the domain (or `core`) it reaches into, and a new
flat module here stands out as one that has not found its domain yet.
"""
