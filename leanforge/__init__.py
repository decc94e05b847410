"""leanforge: a git-native coding lab that ships LLM changes only through locked tests."""

__version__ = "0.1.0"
