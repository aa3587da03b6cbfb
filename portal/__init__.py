"""Self-hosted customer portal."""

import os

# Everything the portal writes (the SQLite database, private files, the mail outbox, state and
# logs) is for the account it runs as only: set before any of it is created, in every process
# that imports the portal (the server, `portal.manage`, the seed, the jobs).
os.umask(0o077)

# NumPy's OpenBLAS: one thread per process unless the environment says otherwise, set before NumPy
# is first imported (it reads this once). With a thread per core, its threads spin waiting for
# each other's next small product; on a busy machine they wait for cores instead, and embedding a
# search question (a few dozen small products) went from 5 ms to 0.2-2 s at p95 (bench/README.md,
# "help-center search at scale"). A server's parallelism is its workers and their threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
