"""Running the independent pieces of a job in this process or on Ray (see :mod:`.executor`)."""

from .executor import EXECUTORS, LocalExecutor, RayExecutor, make_executor

__all__ = ["EXECUTORS", "LocalExecutor", "RayExecutor", "make_executor"]
