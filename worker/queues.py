"""The job layer moved to :mod:`timebank.platform.jobs`; these names stay for old imports."""

from timebank.platform.jobs import (
    DEFAULT_BACKOFF,
    FAILURE_TTL,
    KEY_PREFIX,
    QUEUES,
    default_backoff,
    enqueue,
    get_queue,
    job,
    redis_connection,
    redis_key,
    resolve,
    use_worker_app,
    worker_app,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "FAILURE_TTL",
    "KEY_PREFIX",
    "QUEUES",
    "default_backoff",
    "enqueue",
    "get_queue",
    "job",
    "redis_connection",
    "redis_key",
    "resolve",
    "use_worker_app",
    "worker_app",
]
