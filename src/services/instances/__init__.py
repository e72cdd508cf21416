"""Scene asset instances: each scene's state of each asset, inherited from the scene before,
and edits to it (docs/instances.md)."""
