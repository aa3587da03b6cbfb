"""Reading Prometheus expositions in tests."""

from __future__ import annotations

import re


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition, 0 when it is not there yet."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m and ",".join(sorted((m.group(1) or "").split(","))) == want:
            return float(m.group(2))
    return 0.0


def current(name: str, **labels: str) -> float:
    """The series' value added up over every process of this machine (tests and servers)."""
    from portal.metrics import exposition

    return sample(exposition().decode(), name, **labels)
