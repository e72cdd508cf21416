"""Image generation: jobs and their lifecycle, the worker, providers, storage, and the job
events live subscribers read (docs/images.md, docs/operations.md)."""
