"""Running chunks of trials on Dask: a local cluster by default, or an existing scheduler.

The chunking and the seed of every chunk are fixed before anything is sent (summary.chunk_sizes,
one random stream per chunk and source), and results are merged in chunk order on the client, so
the answer is the same for any number of workers, and the same as the local backend's.
"""

from __future__ import annotations

from collections.abc import Callable

from aftershock.errors import AftershockError
from aftershock.risk.allocator import ENVIRONMENT
from aftershock.risk.montecarlo import RiskPlan
from aftershock.risk.summary import ChunkResult, batches, run_batch

CONNECT_TIMEOUT = "10s"  # how long to keep trying an existing scheduler

# Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's dynamic mmap
# threshold: every large NumPy array is then a fresh mmap that page-faults in (allocator.py).
WORKER_MALLOC = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in ENVIRONMENT.items()}


def run_on_dask(
    plans: list[RiskPlan],
    seed: int,
    sizes: list[int],
    *,
    scheduler: str | None = None,
    workers: int = 2,
    processes: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Run every chunk on a Dask cluster and merge the results in chunk order."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise AftershockError(
            "the dask backend needs dask and distributed",
            hint="pip install 'aftershock[dask]', or use --backend local",
        ) from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        else:
            # processes: TCP on loopback only; threads: in-process transport (no host)
            where = {"host": "127.0.0.1"} if processes else {}
            with dask.config.set(WORKER_MALLOC):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=processes,
                    dashboard_address=None, **where,
                )
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise AftershockError(
            f"cannot reach the Dask scheduler {scheduler or '(local cluster)'}: {exc}",
            hint="check the address (tcp://host:8786) or leave --scheduler out for a local cluster",
        ) from None
    try:
        [shared] = client.scatter([plans], broadcast=True)
        work = batches(sizes)
        futures = [
            client.submit(run_batch, shared, seed, first, batch, key=f"aftershock-risk-{seed}-{first}-{len(sizes)}",
                          pure=False)
            for first, batch in work
        ]
        trials_of = {first: sum(batch) for first, batch in work}
        order = [first for first, _ in work]
        pending: dict[int, ChunkResult] = {}
        merged: ChunkResult | None = None
        done = 0
        for future in as_completed(futures):
            result: ChunkResult = future.result()
            future.release()
            pending[result.chunk] = result
            if progress is not None:
                progress(trials_of[result.chunk])
            while done < len(order) and order[done] in pending:  # merge in batch order only
                part = pending.pop(order[done])
                merged = part if merged is None else merged.merge(part)
                done += 1
        assert merged is not None and not pending
        return merged
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
