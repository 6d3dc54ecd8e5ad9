"""Background work on RQ: queues, jobs, the scheduler and ``timebank worker``."""
