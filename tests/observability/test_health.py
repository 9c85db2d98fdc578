from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.observability.health import MAX_POST_BYTES, HealthServer
from bot.observability.metrics import DIAGNOSES


def test_health_ready_and_metrics_over_http():
    state = {"store": True}
    server = HealthServer(
        0, {"store": lambda: state["store"], "slack": lambda: True}, host="127.0.0.1"
    ).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and "store: ok" in ready.text

        state["store"] = False
        not_ready = httpx.get(f"{base}/readyz")
        assert not_ready.status_code == 503 and "store: FAILING" in not_ready.text

        state["store"] = True
        server.draining.set()
        assert httpx.get(f"{base}/readyz").status_code == 503

        DIAGNOSES.labels(cluster="prod", outcome="live").inc()
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200
        assert 'pgconn_diagnoses_total{cluster="prod",outcome="live"}' in metrics.text
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.stop()


def test_a_raising_check_is_not_ready():
    def broken() -> bool:
        raise RuntimeError("store gone")

    server = HealthServer(0, {"store": broken}, host="127.0.0.1").start()
    try:
        assert httpx.get(f"http://127.0.0.1:{server.port}/readyz").status_code == 503
    finally:
        server.stop()


def test_post_routes_registered_by_other_modules() -> None:
    seen: list[tuple[str, bytes]] = []

    def echo(headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        seen.append((headers.get("x-probe", ""), body))
        if body == b"boom":
            raise RuntimeError("handler bug")
        return 202, b"taken\n"

    server = HealthServer(0, {}, host="127.0.0.1")
    server.route_post("/hook", echo)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        ok = httpx.post(f"{base}/hook", content=b"{}", headers={"X-Probe": "1"})
        assert (ok.status_code, ok.text) == (202, "taken\n")
        assert seen == [("1", b"{}")]
        assert httpx.post(f"{base}/other", content=b"{}").status_code == 404
        assert httpx.post(f"{base}/hook", content=b"boom").status_code == 500
        big = httpx.post(f"{base}/hook", content=b"x" * (MAX_POST_BYTES + 1))
        assert big.status_code == 413
        assert httpx.get(f"{base}/healthz").status_code == 200  # still serving
    finally:
        server.stop()
