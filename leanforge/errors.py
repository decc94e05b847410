"""The exception tree. Only the CLI turns these into exit codes and one-line messages."""

from __future__ import annotations


class ForgeError(Exception):
    """Base of every error forge reports to a user. The message is one line and says what to do."""

    #: "usage" errors exit 2 (bad input), everything else exits 1.
    usage: bool = False


class UsageError(ForgeError):
    """The user asked for something that cannot be done as asked."""

    usage = True


class NotARepository(UsageError):
    """The current directory is not inside a git repository."""


class EmptyRepository(UsageError):
    """The repository has no commits yet."""


class InvalidSlug(UsageError):
    """A slug is not lowercase kebab-case or is too long."""


class DuplicateSlug(UsageError):
    """A task with this slug already exists."""


class UnknownTask(UsageError):
    """No task with this slug exists."""


class BadTestPath(UsageError):
    """A test path is missing, not a file, or outside the repository."""


class ConfigError(UsageError):
    """`.forge/config.toml` is unreadable or holds an invalid value."""


class InterpreterError(ForgeError):
    """The project's Python interpreter is missing or lacks pytest."""


class CorruptState(ForgeError):
    """A task record or lock file on disk cannot be read."""


class LockBusy(ForgeError):
    """Another forge process holds the repository lock for too long."""


class LockTampered(ForgeError):
    """The lock manifest or a pristine file does not match its recorded hash."""


class InvalidTransition(ForgeError):
    """A task record was asked to move to a status its state machine forbids."""


class RedBeforeGreen(UsageError):
    """Acceptance tests did not fail properly on the base commit."""


class SandboxUnavailable(ForgeError):
    """The configured sandbox cannot run on this machine."""


class MergeRefused(ForgeError):
    """A merge cannot be done safely; nothing was changed."""


class UnmergedWork(UsageError):
    """Cleaning would delete work that has not been merged."""
