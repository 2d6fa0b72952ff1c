"""Executors: where the independent pieces of a job run — in this process, or as Ray tasks.

A job (generation shards, filter batches, experiment-grid cells) is handed to an executor as
``map_with(make_worker, call, items, here=...)``: ``make_worker()`` builds the expensive state once
per worker (a fitted generator, a fitted filter chain, loaded encoders), ``call(worker, item)`` does
one piece of work, and ``here`` is that state when the caller already has it (the local executor
then uses it instead of building a second copy). Results come back **in item order**, whatever order they finished in, so the
driver writes exactly what the local executor writes: same seed, same records, same metrics.

Memory stays bounded: at most ``max_in_flight`` items are submitted and not yet handed back, so a
slow piece at the head of the queue holds back submission instead of letting finished results
pile up in the driver.

Why Ray actors and not plain tasks: building a worker (loading WordNet, a sentence encoder, an LLM)
takes seconds; an actor builds it once and then serves many items. A worker process that dies
(OOM killer, a lost node, ``kill -9``) is restarted by Ray and the calls it had are retried
(``max_restarts`` / ``max_task_retries``), so a lost worker costs time, never a record. Errors a
user can act on (:class:`~sentisynth.errors.SentiSynthError`) are re-raised as themselves, without
Ray's wrapper and remote traceback.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, ClassVar, Iterable, Iterator

from ..errors import ConfigError, ResourceError, SentiSynthError

EXECUTORS = ("local", "ray")


class LocalExecutor:
    """Everything in this process, one item after another: the reference the Ray executor must match."""

    name: ClassVar[str] = "local"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def map_with(self, make_worker: Callable[[], Any], call: Callable[[Any, Any], Any], items: Iterable[Any],
                 here: Any = None) -> Iterator[Any]:
        """``call(worker, item)`` for each item in order, with ``here`` as the worker, else one built on first use."""
        worker = here
        for item in items:
            if worker is None:
                worker = make_worker()
            yield call(worker, item)

    def close(self) -> None:
        """Nothing to release."""


class RayPool:
    """Ray actors that each build one worker, serving calls with results handed back in item order;
    the actors live until :meth:`close`."""

    def __init__(self, ray: Any, make_worker: Callable[[], Any], n_workers: int, max_in_flight: int, max_retries: int):
        self.ray, self.max_in_flight, self.max_retries = ray, max_in_flight, max_retries
        actor_cls = ray.remote(num_cpus=1, max_restarts=max_retries, max_task_retries=max_retries)(_Worker)
        self.actors = [actor_cls.remote(make_worker) for _ in range(n_workers)]

    def map(self, call: Callable[[Any, Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``call(worker, item)`` for each item on the least busy actor; results in item order."""
        ray = self.ray
        idle = deque(range(len(self.actors)))
        pending: dict[Any, tuple[int, int]] = {}  # object ref -> (item index, actor index)
        done: dict[int, Any] = {}
        source = iter(items)
        next_index = next_out = 0
        exhausted = False
        while True:
            while idle and not exhausted and next_index - next_out < self.max_in_flight:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                a = idle.popleft()
                pending[self.actors[a].run.remote(call, item)] = (next_index, a)
                next_index += 1
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if not pending:
                if exhausted:
                    return
                continue
            ready, _ = ray.wait(list(pending), num_returns=1)
            index, a = pending.pop(ready[0])
            done[index] = _get(ray, ready[0], self.max_retries)
            idle.append(a)

    def close(self) -> None:
        """Kill the actors (and with them whatever they still had queued)."""
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


class RayExecutor:
    """Items as calls to a pool of Ray actors, results handed back in item order.

    Parameters
    ----------
    address : a running cluster (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.5:6379"``); None starts a
        local Ray instance in this process (what the tests and a laptop use), unless ``RAY_ADDRESS``
        is set, which Ray then joins.
    num_cpus : CPUs of the local instance (ignored with ``address``); None lets Ray count them.
    num_workers : actors in a pool; None means one per CPU Ray reports (each actor takes one CPU).
    max_in_flight : items submitted and not yet handed back; None means 2 x num_workers.
    max_retries : restarts of a dead actor and retries of each call it had in flight.
    """

    name: ClassVar[str] = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, num_workers: int | None = None,
                 max_in_flight: int | None = None, max_retries: int = 3):
        self.address = address
        self.num_cpus = num_cpus
        self.num_workers = num_workers
        self.max_in_flight = max_in_flight
        self.max_retries = max_retries

    def _check_params(self) -> None:
        for name, lo, optional in (("num_cpus", 1, True), ("num_workers", 1, True), ("max_in_flight", 1, True),
                                   ("max_retries", 0, False)):
            v = getattr(self, name)
            if v is None and optional:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"The '{name}' parameter of the ray executor must be {'None or ' if optional else ''}"
                                  f"an int >= {lo}; got {v!r} instead.")
        if self.address is not None and not isinstance(self.address, str):
            raise ConfigError(f"The 'address' parameter of the ray executor must be a string such as 'auto' or "
                              f"'ray://head:10001'; got {self.address!r} instead.")

    def start(self) -> "RayExecutor":
        """Connect to (or start) Ray once; a second executor in the same process reuses the connection."""
        self._check_params()
        try:
            import ray
        except ImportError:
            raise ResourceError("--executor ray needs Ray; fix: pip install 'sentisynth[ray]' (ray==2.60.0).") from None
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": "error", "log_to_driver": False}
            if self.address:
                options["address"] = self.address
            elif self.num_cpus:
                options["num_cpus"] = self.num_cpus
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ResourceError(f"cannot start or reach Ray at {self.address or 'a new local instance'}: "
                                    f"{' '.join(str(e).split())[:300]}; fix: check ray.address (or start the "
                                    f"cluster with `ray start --head`).") from None
            self.started_ = True
        self.ray_ = ray
        return self

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "address": self.address, "num_workers": self.num_workers,
                                "max_in_flight": self.max_in_flight, "max_retries": self.max_retries}
        if hasattr(self, "ray_"):
            info["ray_version"] = self.ray_.__version__
            info["cluster_cpus"] = self.ray_.cluster_resources().get("CPU")
        return info

    def map_with(self, make_worker: Callable[[], Any], call: Callable[[Any, Any], Any], items: Iterable[Any],
                 here: Any = None) -> Iterator[Any]:
        """Like :meth:`LocalExecutor.map_with`, on a pool of Ray actors (each builds its own worker:
        ``here`` lives in this process) released at the end."""
        if not hasattr(self, "ray_"):
            self.start()
        n_workers = self.num_workers or max(1, int(self.ray_.cluster_resources().get("CPU", 1)))
        pool = RayPool(self.ray_, make_worker, n_workers, self.max_in_flight or 2 * n_workers, self.max_retries)
        try:
            yield from pool.map(call, items)
        finally:
            pool.close()

    def close(self) -> None:
        """Shut down the local Ray instance this executor started (a cluster it joined keeps running)."""
        if getattr(self, "started_", False):
            self.ray_.shutdown()
            self.started_ = False


class _Worker:
    """The actor: builds the worker state once, then serves calls."""

    def __init__(self, make_worker: Callable[[], Any]):
        self.make_worker = make_worker

    def run(self, call: Callable[[Any, Any], Any], item: Any) -> Any:
        if not hasattr(self, "worker_"):
            self.worker_ = self.make_worker()
        return call(self.worker_, item)


def _get(ray: Any, ref: Any, max_retries: int) -> Any:
    """``ray.get``, re-raising a user-facing error from a worker as itself (one line, no remote traceback)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, SentiSynthError):
            raise cause from None
        raise
    except ray.exceptions.RayActorError as e:
        raise ResourceError(f"a Ray worker died and was still failing after {max_retries} restart(s): "
                            f"{' '.join(str(e).split())[:300]}; fix: raise the executor's max_retries or check "
                            f"the workers' memory.") from None


def make_executor(spec: Any = None) -> LocalExecutor | RayExecutor:
    """``None`` / ``"local"`` / ``"ray"`` / ``{"name": "ray", "address": ..., ...}`` → an executor."""
    if spec is None or isinstance(spec, (LocalExecutor, RayExecutor)):
        return spec or LocalExecutor()
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or spec.get("name") not in EXECUTORS:
        got = spec.get("name") if isinstance(spec, dict) else spec
        raise ConfigError(f"executor: expected one of {list(EXECUTORS)} (or a mapping with name: ray, address: ...); "
                          f"got {got!r}; fix: --executor local|ray.")
    options = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] == "local":
        if options:
            raise ConfigError(f"executor local takes no options; got {sorted(options)}.")
        return LocalExecutor()
    allowed = {"address", "num_cpus", "num_workers", "max_in_flight", "max_retries"}
    unknown = set(options) - allowed
    if unknown:
        raise ConfigError(f"Unknown ray executor option(s) {sorted(unknown)}; expected some of {sorted(allowed)}.")
    executor = RayExecutor(**options)
    executor._check_params()
    return executor
