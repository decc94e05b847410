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


class TargetMoved(MergeRefused):
    """The target moved between planning a merge and committing it; plan again."""


class LabNotLocked(UsageError):
    """A lab must be locked (`forge lab lock`) before it runs."""


class LabChanged(UsageError):
    """A locked lab's evaluator, data or locked settings differ from the lock."""


class UnmergedWork(UsageError):
    """Cleaning would delete work that has not been merged."""


class MissingApiKey(UsageError):
    """The Anthropic backend was chosen but no API key is set."""


class BackendUnavailable(UsageError):
    """The chosen agent backend cannot run here (e.g. the `claude` CLI is not installed)."""


class ModelUnavailable(ForgeError):
    """The model API failed for good: retries exhausted, a bad request, or no connection."""


class GitHubError(ForgeError):
    """The GitHub API failed for good: no token, a refused request, or retries and waits exhausted."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status of the last response, or None when there was none (no connection).
        self.status = status


class PushRejected(ForgeError):
    """A git remote refused a push (the branch moved there, or a rule protects it)."""


class AgentStopped(ForgeError):
    """An agent session ended without a valid final answer; nothing it did counts.

    Carries what the session spent, so callers can record cost even for a failed session.
    """

    #: A short machine-readable reason, recorded in transcripts and task records.
    reason = "stopped"

    def __init__(self, message: str, *, turns: int = 0, cost_usd: float = 0.0) -> None:
        super().__init__(message)
        self.turns = turns
        self.cost_usd = cost_usd


class TurnLimitReached(AgentStopped):
    """The session used all its model turns."""

    reason = "max_turns"


class TimeLimitReached(AgentStopped):
    """The session ran out of wall-clock time."""

    reason = "time_limit"


class BudgetExceeded(AgentStopped):
    """The next model call could take spending past the budget, so it was not made."""

    reason = "budget"


class ModelRefused(AgentStopped):
    """The model refused the task (stop_reason "refusal")."""

    reason = "refusal"


class NoFinalAnswer(AgentStopped):
    """The model stopped, or kept sending invalid final input, without a valid final tool call."""

    reason = "no_final"


class OutputTruncated(AgentStopped):
    """The model's output was cut by max_tokens again after it was given more room."""

    reason = "max_tokens"


class ContextExhausted(AgentStopped):
    """The conversation overflowed the context window and nothing was left to abridge."""

    reason = "context"
