"""Casting a shot: which instances appear in it and how (presence), the frame references and
manifests that follow, and the shot prompts and frames generated from them (docs/casting.md)."""
