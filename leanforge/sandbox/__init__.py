"""Sandboxed command execution: the Executor protocol, bubblewrap and the unisolated fallback."""

from leanforge.sandbox.base import Executor, Layout, Mount, RunRequest, RunResult, scrub_env

__all__ = ["Executor", "Layout", "Mount", "RunRequest", "RunResult", "scrub_env"]
