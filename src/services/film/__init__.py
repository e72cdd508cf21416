"""The film's structure: projects, branches, scenes, shots, project assets, stages, the
chain links between scenes' instances, and forks (docs/editing.md)."""
