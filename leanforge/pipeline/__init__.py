"""The pipeline: spec, build (engineer, gate, reviewers, merge, tech-lead), and the demo."""
