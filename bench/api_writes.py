"""API writes per second and p95 latency for order upserts (PUT /api/v1/orders/{number}),
with two baselines measured in the same run on the same machine:
  - bare: a Starlette route that validates the same JSON body with the same pydantic model
    and answers, touching no database (what the framework and validation cost);
  - insert: the bare route plus one INSERT of an order row through sqlmodel (the least a
    write can cost on this database).
Runs in process on a fresh SQLite database (ASGI, no network). Usage:
    .venv/bin/python bench/api_writes.py [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="portal-bench-"))
os.environ.setdefault("PORTAL_ENV", "test")
os.environ["PORTAL_DATA_DIR"] = str(_TMP)
os.environ.pop("DATABASE_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _run(client: TestClient, n: int, path_for: Callable[[int], str], body: dict[str, object],
         headers: dict[str, str]) -> tuple[float, float, float]:
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        r = client.put(path_for(i), json=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if r.status_code not in (200, 201):
            raise SystemExit(f"unexpected {r.status_code}: {r.text[:300]}")
    elapsed = time.perf_counter() - start
    return n / elapsed, statistics.median(latencies) * 1000, _percentile(latencies, 0.95) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    n = parser.parse_args().requests

    from sqlmodel import Session, select

    from portal.api.app import build_api
    from portal.db import get_engine, session_scope
    from portal.domain.api import keys, schemas
    from portal.domain.principal import Principal
    from portal.manage import migrate
    from portal.models import Customer, Order, Role, User

    migrate()
    with session_scope() as db:
        admin = User(email="bench-admin@example.com", role=Role.ADMIN)
        db.add(admin)
        db.add(Customer(name="Bench", email="bench@example.com", number="C-BENCH", external_id="crm-bench"))
        db.flush()
        p = Principal(user_id=admin.id or 0, role="admin", email=admin.email, name="")
        _, raw = keys.create_key(db, principal=p, name="bench", scopes=["orders:write"])
        cust_id = db.exec(select(Customer.id)).first()
    body: dict[str, object] = {"customer_external_id": "crm-bench", "status": "paid", "shipping_cents": 495,
                               "lines": [{"sku": f"SKU-{i}", "name": f"Item {i}", "quantity": 1,
                                          "unit_price_cents": 1000 + i} for i in range(3)]}

    async def bare(request: Request) -> Response:
        data = schemas.OrderIn.model_validate_json(await request.body())
        return JSONResponse({"number": request.path_params["number"], "lines": len(data.lines)}, status_code=201)

    def insert_sync(number: str, data: schemas.OrderIn) -> None:
        with Session(get_engine()) as s:
            s.add(Order(number=number, customer_id=cust_id or 0, status=data.status))
            s.commit()

    async def insert(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        data = schemas.OrderIn.model_validate_json(await request.body())
        await run_in_threadpool(insert_sync, request.path_params["number"], data)
        return JSONResponse({"number": request.path_params["number"]}, status_code=201)

    baseline = Starlette(routes=[Route("/bare/{number}", bare, methods=["PUT"]),
                                 Route("/insert/{number}", insert, methods=["PUT"])])
    auth = {"Authorization": f"Bearer {raw}"}
    rows = []
    with TestClient(baseline) as b, TestClient(build_api()) as api:
        # Warm up both (imports, connection pools, caches) before measuring.
        _run(b, 20, lambda i: f"/bare/W-{i}", body, {})
        _run(api, 20, lambda i: f"/api/v1/orders/WARM-{i}", body, auth)
        rows.append(("baseline: bare Starlette + pydantic", *_run(b, n, lambda i: f"/bare/B-{i}", body, {})))
        rows.append(("baseline: + one INSERT", *_run(b, n, lambda i: f"/insert/I-{i}", body, {})))
        rows.append(("portal: order upsert (create)", *_run(api, n, lambda i: f"/api/v1/orders/FH-{i}", body, auth)))
        rows.append(("portal: order upsert (update)", *_run(api, n, lambda i: f"/api/v1/orders/FH-{i}", body, auth)))
        idem = {**auth, "Idempotency-Key": "same"}
        rows.append(("portal: idempotent replay", *_run(api, n, lambda i: "/api/v1/orders/FH-0", body, idem)))
    base_rate = rows[1][1]
    print(f"{n} requests each, SQLite, in-process ASGI, python {sys.version.split()[0]}")
    print(f"{'':38} {'req/s':>8} {'median ms':>10} {'p95 ms':>8} {'vs INSERT':>10}")
    for name, rate, med, p95 in rows:
        print(f"{name:38} {rate:8.0f} {med:10.2f} {p95:8.2f} {rate / base_rate:9.2f}x")


if __name__ == "__main__":
    main()
