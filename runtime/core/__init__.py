"""The :class:`Loom` that assembles the services of one process, its
:class:`Settings`, and the app store that publishes and rolls back apps."""
from .config import Settings
from .loom import Loom

__all__ = ["Loom", "Settings"]
