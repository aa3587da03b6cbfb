"""Self-hosted customer portal."""

import os

# Everything the portal writes (the SQLite database, private files, the mail outbox, state and
# logs) is for the account it runs as only: set before any of it is created, in every process
# that imports the portal (the server, `portal.manage`, the seed, the jobs).
os.umask(0o077)
