"""The bench's pure parts: percentiles, figures, report rows, how load is spread, endpoints,
and the floor's bare app (in process)."""

from __future__ import annotations

import json
import random
import ssl
from pathlib import Path

import httpx
import pytest

from kuaidan.bench.dblimit import DbLimitPlan, sku_for
from kuaidan.bench.floor import floor_app
from kuaidan.bench.load import Target, classify, no_cpu, spread_items
from kuaidan.bench.report import COLUMNS, Report, outcome_rows, row
from kuaidan.bench.runner import CpuMeter, RunOptions, floor_buyers
from kuaidan.bench.spawn import postgres_cpu_seconds
from kuaidan.bench.stats import Latency, Recorder, percentile, ratio, summarise
from kuaidan.bench.wire import Endpoint
from kuaidan.config import Settings
from kuaidan.inventory.domain import OutOfStock, Shortage


def test_percentiles_use_the_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) == 0.0
    with pytest.raises(ValueError, match="percentile"):
        percentile(samples, 101)


def test_latency_is_reported_in_milliseconds() -> None:
    lat = Latency.of([0.010, 0.020, 0.030, 0.040])
    assert (lat.count, lat.p50_ms, lat.max_ms) == (4, 20.0, 40.0)


def test_figures_count_outcomes_and_rate_of_successes() -> None:
    recorder = Recorder()
    for i in range(8):
        recorder.record("ok", 0.01, at=1.0 + i)
    recorder.record("sold_out", 0.002)
    recorder.record("http_500", 0.5)
    figures = summarise(recorder, scenario="s", backend="sqlite", concurrency=4, duration_s=2.0)
    assert (figures.ok, figures.attempts, figures.rate_per_s) == (8, 10, 4.0)
    assert figures.errors == {"http_500": 1}
    assert set(figures.by_outcome) == {"ok", "sold_out", "http_500"}
    assert recorder.first_ok == pytest.approx(0.99) and recorder.last_ok == 8.0


def test_report_rows_and_json_carry_every_figure() -> None:
    recorder = Recorder()
    recorder.record("ok", 0.01, at=1.0)
    app = summarise(recorder, scenario="checkout", backend="postgres", concurrency=2, duration_s=1)
    limit = summarise(
        recorder, scenario="db-limit", backend="postgres", concurrency=2, duration_s=0.5
    )
    report = Report(command="checkout", figures=[app, limit])
    report.add_ratio("checkout / db-limit", app, limit)
    assert row(app)[:5] == ["checkout", "postgres", "2", "1", "1.0"]
    assert outcome_rows(app)[0][0].endswith("checkout: ok")
    dumped = json.loads(report.as_json())
    assert dumped["ratios"] == {"checkout / db-limit": 0.5}
    assert dumped["machine"]["cpus"] >= 1
    assert ratio(1, 0) is None


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (201, {}, "ok"),
        (200, {}, "ok"),
        (409, {"error": {"code": "out_of_stock"}}, "sold_out"),
        (409, {"error": {"code": "purchase_limit"}}, "limit"),
        (429, {"error": {"code": "rate_limited"}}, "busy"),
        (500, None, "http_500"),
    ],
)
def test_answers_are_classified(status: int, body: object, outcome: str) -> None:
    assert classify(status, body) == outcome


def test_spread_orders_take_three_neighbouring_skus() -> None:
    skus = [(sku, 100) for sku in range(10, 20)]
    items = spread_items(random.Random(1), skus)
    ids = [item["sku_id"] for item in items]
    assert len(ids) == 3 and ids == list(range(ids[0], ids[0] + 3))
    assert len(spread_items(random.Random(1), skus[:2])) == 2


def test_db_limit_spreads_writers_over_every_sku_and_names_its_case() -> None:
    seen = {sku_for(w, i, 50) for w in range(8) for i in range(200)}
    assert seen == set(range(1, 51))
    assert {sku_for(w, i, 1) for w in range(4) for i in range(5)} == {1}
    assert DbLimitPlan(8, 1, 1).scenario == "db-limit one-sku"
    assert DbLimitPlan(8, 1, 400).scenario == "db-limit spread"


def test_plot_points_use_the_accepted_rate_for_flash_sales_and_every_answer_for_the_floor() -> None:
    from kuaidan.bench.plot import points

    def fig(scenario: str, conc: int, rate: float, extra: dict[str, float]) -> dict[str, object]:
        return {
            "scenario": scenario,
            "backend": "postgres",
            "concurrency": conc,
            "rate_per_s": rate,
            "latency": {"p99_ms": 9.0},
            "extra": extra,
        }

    floor = {**fig("floor", 200, 0.0, {}), "backend": "none", "answers_per_s": 8000.0}
    reports = [
        {"figures": [fig("checkout", 32, 100.0, {}), fig("checkout", 8, 50.0, {})]},
        {"figures": [fig("flash-sale", 200, 1.0, {"accepted_rate_per_s": 400.0})]},
        {"figures": [floor]},
    ]
    series = points(reports)
    assert series[("checkout", "postgres")] == [(8, 50.0, 9.0), (32, 100.0, 9.0)]
    assert series[("flash-sale", "postgres")] == [(200, 400.0, 9.0)]
    assert series[("floor", "none")] == [(200, 8000.0, 9.0)]


def test_rows_show_every_answers_rate_and_cpu_per_answer_when_measured() -> None:
    recorder = Recorder()
    for _ in range(6):
        recorder.record("sold_out", 0.002)
    measured = summarise(
        recorder,
        scenario="floor",
        backend="none",
        concurrency=2,
        duration_s=2.0,
        extra={"server_cpu_ms_per_answer": 0.12, "client_cpu_ms_per_answer": 0.084},
    )
    cells = dict(zip(COLUMNS, row(measured), strict=True))
    assert (cells["ok/s"], cells["answers/s"]) == ("0.0", "3.0")
    assert (cells["server CPU ms/answer"], cells["client CPU ms/answer"]) == ("0.12", "0.08")
    assert measured.as_dict()["answers_per_s"] == 3.0
    bare = summarise(recorder, scenario="s", backend="none", concurrency=2, duration_s=2.0)
    assert dict(zip(COLUMNS, row(bare), strict=True))["client CPU ms/answer"] == "-"


def test_cpu_meter_divides_both_sides_cpu_by_the_answers() -> None:
    readings = iter([10.0, 10.6])
    meter = CpuMeter(Target("https://127.0.0.1:1", True, cpu_seconds=lambda: next(readings)))
    meter.start()
    sum(range(200_000))  # some CPU of this process
    meter.stop()
    figures = meter.figures(answers=300)
    assert figures["server_cpu_s"] == 0.6 and figures["server_cpu_ms_per_answer"] == 2.0
    assert figures["client_cpu_ms_per_answer"] == round(meter.client_s * 1000 / 300, 3)
    assert CpuMeter(Target("https://x", True)).figures(0)["client_cpu_ms_per_answer"] == 0.0
    assert "database_cpu_ms_per_answer" not in figures


def test_cpu_meter_counts_the_database_when_it_can_be_read() -> None:
    database = iter([100.0, 101.5])
    meter = CpuMeter(Target("https://x", True), database=lambda: next(database))
    meter.start()
    meter.stop()
    figures = meter.figures(answers=500)
    assert figures["database_cpu_s"] == 1.5 and figures["database_cpu_ms_per_answer"] == 3.0
    cells = dict(
        zip(
            COLUMNS,
            row(
                summarise(
                    Recorder(),
                    scenario="s",
                    backend="postgres",
                    concurrency=1,
                    duration_s=1.0,
                    extra=figures,
                )
            ),
            strict=True,
        )
    )
    assert cells["database CPU ms/answer"] == "3.00"


def test_only_a_postgresql_on_this_machine_has_its_cpu_read(tmp_path: Path) -> None:
    def options(url: str | None) -> RunOptions:
        return RunOptions(settings=Settings(data_dir=tmp_path, database_url=url))

    assert options(None).database_cpu() is no_cpu
    assert options("postgresql://db.example:5432/k").database_cpu() is no_cpu
    assert options("postgresql://postgres@127.0.0.1:5432/k").database_cpu() is postgres_cpu_seconds


def test_endpoints_take_host_port_prefix_and_tls_from_the_url() -> None:
    secure = Endpoint.of("https://127.0.0.1:8443/shop/", False)
    assert (secure.host, secure.port, secure.prefix) == ("127.0.0.1", 8443, "/shop")
    assert secure.host_header == "127.0.0.1:8443"
    assert secure.context is not None and secure.context.verify_mode == ssl.CERT_NONE
    plain = Endpoint.of("http://localhost")
    assert (plain.port, plain.context, plain.host_header) == (80, None, "localhost")
    assert Endpoint.of("https://[::1]:9/", True).host_header == "[::1]:9"
    with pytest.raises(ValueError, match="http"):
        Endpoint.of("ftp://example.org")


async def test_the_floor_answers_checkouts_as_the_route_does_when_sold_out() -> None:
    transport = httpx.ASGITransport(app=floor_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://floor") as client:
        sold_out = await client.post(
            "/api/v1/checkouts", json={"items": [{"sku_id": 7, "quantity": 2}], "address_id": 1}
        )
        garbled = await client.post("/api/v1/checkouts", content=b"{not json")
        health = await client.get("/healthz")
    expected = OutOfStock([Shortage(sku_id=7, requested=2, available=0)]).to_dict()
    assert (sold_out.status_code, sold_out.json()) == (409, {"error": expected})
    assert classify(sold_out.status_code, sold_out.json()) == "sold_out"
    assert garbled.status_code == 422 and health.status_code == 200


def test_floor_buyers_look_like_prepared_ones() -> None:
    buyers = list(floor_buyers(5))
    assert len(buyers) == 5 and all(b.token.startswith("kd_") for b in buyers)
    assert len({b.token for b in buyers}) == 5
