"""Scheduled jobs. Modules here register jobs with @job; portal/jobs/scheduler.py runs them."""
