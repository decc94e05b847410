"""What a running session has spent and how it ended: shared by the tool loop and claude-code."""

from __future__ import annotations

from leanforge.agent import pricing
from leanforge.agent.model import CallUsage
from leanforge.agent.transcript import Transcript
from leanforge.errors import AgentStopped
from leanforge.records import Usage


class Tally:
    """Turns and usage so far (readable even after the session raised), and its end event."""

    transcript: Transcript
    usage: Usage
    turns: int

    def charge(self, usage: CallUsage, cost_usd: float, turns: int = 1) -> None:
        self.turns += turns
        self.usage = self.usage + pricing.charge(usage, cost_usd)

    def stopped(self, kind: type[AgentStopped], message: str) -> AgentStopped:
        """A typed stop carrying what the session spent."""
        return kind(message, turns=self.turns, cost_usd=self.usage.cost_usd)

    def end(self, exc: BaseException | None = None) -> None:
        """Write the transcript's ``end`` event: done, stopped (a limit, a refusal) or error."""
        if exc is None:
            how = {"outcome": "done"}
        elif isinstance(exc, AgentStopped):
            how = {"outcome": "stopped", "reason": exc.reason, "message": str(exc)}
        else:
            how = {"outcome": "error", "reason": type(exc).__name__, "message": str(exc)}
        self.transcript.write("end", **how, turns=self.turns, usage=self.usage.__dict__)
