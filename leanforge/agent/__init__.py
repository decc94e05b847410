"""The agent layer: one tool-use loop that every role runs, its tools, backends, cost and transcripts."""
