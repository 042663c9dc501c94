"""Log lines are JSON objects carrying the ids bound for the task; a request's ids come from
its headers when they are well formed."""

from __future__ import annotations

import io
import json
import logging

from kuaidan.core import logs

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _capture(fmt: logs.LogFormat = "json") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(fmt))
    logger = logging.getLogger(f"kuaidan.test.logs.{fmt}")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_line_is_one_json_object_with_the_bound_ids() -> None:
    logger, stream = _capture()
    with logs.bound(request_id="r-1", trace_id=TRACE):
        logs.bind(order="KD2026120700000000001")
        logger.warning("paid %s of %s fen", 1, 5900)
    logger.info("after")
    first, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "paid 1 of 5900 fen" and first["level"] == "warning"
    assert first["logger"] == "kuaidan.test.logs.json" and first["timestamp"].endswith("Z")
    assert (first["request_id"], first["trace_id"]) == ("r-1", TRACE)
    assert first["order"] == "KD2026120700000000001"
    # The block's end takes its ids away, and the order bound inside it too.
    assert "request_id" not in after and "order" not in after


def test_an_exception_is_kept_as_structured_data() -> None:
    logger, stream = _capture()
    try:
        raise ValueError("bad ¥ amount")
    except ValueError:
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert line["exception"][0]["exc_value"] == "bad ¥ amount"


def test_console_lines_are_text() -> None:
    logger, stream = _capture("console")
    with logs.bound(request_id="r-2"):
        logger.warning("hello")
    text = stream.getvalue()
    assert "hello" in text and "request_id=r-2" in text and not text.startswith("{")


def test_request_ids_come_from_well_formed_headers_only() -> None:
    parent = f"00-{TRACE}-00f067aa0ba902b7-01".encode()
    given = [(b"x-request-id", b"abc.123"), (b"traceparent", parent)]
    assert logs.request_ids(given) == ("abc.123", TRACE)
    request_id, trace_id = logs.request_ids(
        [
            (b"x-request-id", b"no spaces please"),
            (b"traceparent", b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01"),
        ]
    )
    assert len(request_id) == 16 and int(request_id, 16) >= 0
    assert len(trace_id) == 32 and trace_id != "0" * 32
    assert logs.request_ids([])[0] != logs.request_ids([])[0]
