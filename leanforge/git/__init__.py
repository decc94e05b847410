"""The git boundary, all through pygit2 (no git subprocess in library code)."""
