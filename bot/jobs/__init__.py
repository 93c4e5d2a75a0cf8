"""Durable jobs: every activity the conversation must handle is stored as a job and answered at once; a worker
runs the job and posts what it says proactively (`bot.jobs.worker`). Two engines keep the jobs: SQLite beside
the state (one replica) and Azure Storage Queues (several replicas)."""

from bot.jobs.base import Job, JobEngine
from bot.jobs.worker import JobWorker

__all__ = ["Job", "JobEngine", "JobWorker"]
