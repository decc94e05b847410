"""The hardened gate (DESIGN.md §4): pristine tests, two passes, canaries, junit, scan."""
