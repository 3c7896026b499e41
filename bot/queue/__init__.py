"""The PostgreSQL job queue (procrastinate) for nowbot on many machines (`NOWBOT_JOB_QUEUE=postgresql`).

The schedule stays APScheduler's, run by the elected leader; in this shape what it fires is queued
(`dispatch.QueueExecutor`) and run by `nowbot worker` processes on any machine (`worker`), each
calling the same job functions (`bot.jobs`) that the embedded shape runs in the service's own
threads. Chat processes reach generation workers through the same queue (`chat`).
"""
