"""The scale-out topology's moving parts without a database: nginx configuration, process
management and failover, with stand-in instances behind a real nginx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from portal.deploy import scaleout
from portal.deploy.scaleout import Supervisor, Topology
from tests.support import ports

FAKE = Path(__file__).with_name("fake_instance.py")
SHARED = {"DATABASE_URL": "postgresql://portal@db.invalid/portal", "REFLEX_REDIS_URL": "redis://redis.invalid:6379"}


def test_topology_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        Topology(instances=0)
    with pytest.raises(ValueError):
        Topology(instances=2, base_port=8079, nginx_port=8080)  # 8079, 8080 collide with nginx
    assert Topology(instances=3, base_port=4000).ports == [4000, 4001, 4002]


def test_nginx_conf_lists_every_instance_and_upgrades_websockets(tmp_path: Path) -> None:
    t = Topology(instances=3, base_port=4100, nginx_port=4200, run_dir=tmp_path)
    conf = scaleout.render_nginx_conf(t)
    for port in (4100, 4101, 4102):
        assert f"server 127.0.0.1:{port} max_fails=1" in conf
    assert "listen 127.0.0.1:4200;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf and "proxy_next_upstream error timeout;" in conf
    assert str(tmp_path) in conf and "daemon off;" in conf


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_nginx_accepts_the_generated_conf(tmp_path: Path) -> None:
    t = Topology(instances=2, base_port=4300, nginx_port=4400, run_dir=tmp_path)
    conf = tmp_path / "nginx.conf"
    conf.write_text(scaleout.render_nginx_conf(t))
    out = subprocess.run([*scaleout.nginx_command(conf, nginx=scaleout.find_nginx()), "-t"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_instances_share_the_database_and_redis_and_talk_through_nginx() -> None:
    t = Topology(instances=2, base_port=5100, nginx_port=5200)
    env = scaleout.instance_env(t, {"DATABASE_URL": "postgresql://x/y", "PATH": "/bin"})
    assert env["REFLEX_API_URL"] == "http://127.0.0.1:5200" and env["PORTAL_PUBLIC_URL"] == "http://127.0.0.1:5200"
    assert env["DATABASE_URL"] == "postgresql://x/y" and env["GRANIAN_WORKERS"] == "1"
    argv = scaleout.instance_command(t, 1)
    assert argv[1:4] == ["run", "--env", "prod"] and argv.count("5101") == 2 and "--backend-only" not in argv
    with pytest.raises(SystemExit, match="PostgreSQL"):
        scaleout.check_environment({"DATABASE_URL": "sqlite:///x.db", "REFLEX_REDIS_URL": "redis://r"})
    with pytest.raises(SystemExit, match="REFLEX_REDIS_URL"):
        scaleout.check_environment({"DATABASE_URL": "postgresql://x/y"})
    assert scaleout.redis_url_with_db("redis://h:6379/0", 13) == "redis://h:6379/13"
    assert scaleout.redis_url_with_db("redis://:pw@h:6379", 5) == "redis://:pw@h:6379/5"


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_supervisor_starts_instances_and_nginx_and_survives_a_killed_instance(tmp_path: Path) -> None:
    # Given two stand-in instances behind a real nginx, started by the supervisor
    a, proxy = ports.free_ports(2, consecutive=True)[0], ports.free_port()
    t = Topology(instances=2, base_port=a, nginx_port=proxy, run_dir=tmp_path)
    sup = Supervisor(t, env={**SHARED, "PATH": "/usr/bin:/bin"},
                     command=lambda topo, i: [sys.executable, str(FAKE), str(topo.ports[i])])
    try:
        sup.start(timeout=30)
        seen = {httpx.get(f"{t.public_url}/api/health", timeout=5).json()["port"] for _ in range(8)}
        # Then nginx spreads requests over both
        assert seen == set(t.ports)
        # When one instance dies without warning
        sup.kill_instance(0)
        assert sup.instances[0].poll() is not None
        # Then every request still succeeds, answered by the survivor
        answers = [httpx.get(f"{t.public_url}/api/health", timeout=5) for _ in range(8)]
        assert all(r.status_code == 200 for r in answers)
        assert {r.json()["port"] for r in answers} == {t.ports[1]}
    finally:
        sup.stop()
    # And stopping leaves no process behind
    assert all(p.poll() is not None for p in sup.instances) and sup.proxy is not None and sup.proxy.poll() is not None


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_nginx_logs_no_client_token(tmp_path: Path) -> None:
    # Given the topology's real nginx in front of a stand-in instance
    a, proxy = ports.free_port(), ports.free_port()
    t = Topology(instances=1, base_port=a, nginx_port=proxy, run_dir=tmp_path)
    sup = Supervisor(t, env={**SHARED, "PATH": "/usr/bin:/bin"},
                     command=lambda topo, i: [sys.executable, str(FAKE), str(topo.ports[i])])
    token = "3f2b8c1e-7d4a-4b9e-9c2f-5a6d7e8f9a0b"
    try:
        sup.start(timeout=30)
        # When a browser's websocket URL (which carries its tab's token) passes through it
        url = f"{t.public_url}/api/health?EIO=4&transport=websocket&token={token}"
        assert httpx.get(url, timeout=5).status_code == 200
    finally:
        sup.stop()
    # Then the access log records the request, but not the token
    log = (tmp_path / "nginx-access.log").read_text()
    assert "GET /api/health HTTP/1.1" in log
    assert token not in log
