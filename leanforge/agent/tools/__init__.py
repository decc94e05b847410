"""The agents' client tools (DESIGN §5): text editor and bash, bound to a worktree, sandboxed."""

from leanforge.agent.tools.editor_ops import ToolResult
from leanforge.agent.tools.toolbox import Toolbox

__all__ = ["ToolResult", "Toolbox"]
