"""The payments remote adapter against a real payments deployment (the live test server).

Where payments runs elsewhere, ``public`` calls ``remote``: it must answer
exactly what ``local`` answers, raise the same contract errors, charge once
when a reply is lost and the call repeated, and say
``PaymentGatewayUnavailable`` (what the saga already retries) when the
deployment does not answer.
"""

from __future__ import annotations

import socket
import threading
import uuid
from decimal import Decimal

import httpx
import pytest
from django.test import override_settings

from contexts.kernel.remote.client import close_connections
from contexts.kernel.testing import HangingServer, free_port
from contexts.payments import local, public, remote
from contexts.payments.contracts import (
    ChargeDeclined,
    ChargeRequest,
    ChargeResult,
    PaymentGatewayUnavailable,
    PaymentStatus,
)
from contexts.payments.models import GatewayAttempt, Payment
from contexts.payments.models import SimulatedGatewayOperation as Operation

pytestmark = pytest.mark.django_db(transaction=True)

AMOUNT = Decimal("30.00")


@pytest.fixture(autouse=True)
def _hang_up():
    """Keep-alive connections hold a live-server thread (and its database connection)."""
    yield
    close_connections()


def payments_at(url: str, **more):
    options = {
        "CONTEXT_URLS": {"payments": url},
        "SERVICE_TOKENS": ["adapter-token"],
        "INTERNAL_API_TIMEOUT_SECONDS": 2,
        "INTERNAL_API_RETRIES": 1,
        "PAYMENT_GATEWAY_TIMEOUT_SECONDS": 0.2,
    }
    return override_settings(**{**options, **more})


def request(token: str = "tok_visa", amount: Decimal = AMOUNT) -> ChargeRequest:
    return ChargeRequest(order_id=uuid.uuid4(), amount=amount, currency="USD", payment_token=token)


def charges_at_gateway(order_id: uuid.UUID) -> int:
    return Operation.objects.filter(
        idempotency_key=f"charge:{order_id}", outcome="APPROVED"
    ).count()


def test_remote_answers_what_local_answers(live_server):
    ok, declined, refused = request(), request("tok_decline"), request(amount=Decimal("0"))

    with payments_at(live_server.url):
        outcomes = remote.charge_for_orders(requests=[ok, declined, refused])
        again = remote.charge_for_orders(requests=[ok, declined, refused])
        assert outcomes == again == local.charge_for_orders(requests=[ok, declined, refused])
        assert outcomes[ok.order_id].result == ChargeResult.CAPTURED
        assert outcomes[declined.order_id].result == ChargeResult.DECLINED
        assert outcomes[refused.order_id].result == ChargeResult.REFUSED

        payment = remote.get_payment_for_order(order_id=ok.order_id)
        assert payment == local.get_payment_for_order(order_id=ok.order_id)
        assert payment is not None and payment.status == PaymentStatus.CAPTURED
        assert remote.get_payment_for_order(order_id=uuid.uuid4()) is None

        refunded = remote.refund_for_order(order_id=ok.order_id)
        assert refunded == local.refund_for_order(order_id=ok.order_id)
        assert refunded is not None and refunded.status == PaymentStatus.REFUNDED
        assert remote.refund_for_order(order_id=uuid.uuid4()) is None
        assert remote.resubmit_rejected_refund(order_id=ok.order_id) is False

        single = request()
        captured = remote.charge_for_order(
            order_id=single.order_id, amount=AMOUNT, currency="USD", payment_token="tok_visa"
        )
        assert captured == local.get_payment_for_order(order_id=single.order_id)
        with pytest.raises(ChargeDeclined, match="card_declined"):
            remote.charge_for_order(
                order_id=declined.order_id,
                amount=AMOUNT,
                currency="USD",
                payment_token="tok_decline",
            )
    assert charges_at_gateway(ok.order_id) == 1


def test_a_rejected_refund_is_resubmitted_over_the_hop(live_server):
    rejected = request("tok_refund_reject")
    local.charge_for_orders(requests=[rejected])
    with payments_at(live_server.url), pytest.raises(Exception) as raised:
        remote.refund_for_order(order_id=rejected.order_id)
    assert type(raised.value).__name__ == "PaymentRefundRejected"

    with payments_at(live_server.url):
        assert remote.resubmit_rejected_refund(order_id=rejected.order_id) is True


def test_public_calls_remote_where_payments_runs_elsewhere(live_server):
    charge = request()

    with payments_at(live_server.url, SHOP_CONTEXTS=("orders",)):
        assert public._implementation() is remote
        outcome = public.charge_for_orders(requests=[charge])[charge.order_id]
    assert public._implementation() is local
    assert outcome.payment == local.get_payment_for_order(order_id=charge.order_id)


class ReplyDroppingProxy:
    """Forwards each HTTP request to ``upstream``; drops the reply to the first one.

    The payments deployment did the work, its caller never hears of it: the
    lost reply the hop's retry (same idempotency key) must not turn into a
    second charge.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[dict[str, str]] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                self._relay(connection)

    def _relay(self, connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers.get("content-length", headers.get("Content-Length", "0")))
        while len(body) < length:
            body += connection.recv(65536)
        self.requests.append(headers)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        answer = httpx.request(
            method, self.upstream + path, headers=forwarded, content=body, timeout=30
        )
        if len(self.requests) == 1:
            return  # the work is done upstream; the caller gets no reply
        connection.sendall(
            f"HTTP/1.1 {answer.status_code} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(answer.content)}\r\nConnection: close\r\n\r\n".encode()
            + answer.content
        )

    def close(self) -> None:
        self._server.close()


def test_a_charge_whose_reply_was_lost_is_repeated_and_charges_once(live_server):
    proxy = ReplyDroppingProxy(live_server.url)
    charge = request()
    try:
        with payments_at(proxy.url):
            outcome = remote.charge_for_orders(requests=[charge])[charge.order_id]
    finally:
        proxy.close()

    assert outcome.result == ChargeResult.CAPTURED
    assert len(proxy.requests) == 2
    keys = {headers["Idempotency-Key"] for headers in proxy.requests}
    assert len(keys) == 1 and keys.pop().startswith("charges:")
    assert charges_at_gateway(charge.order_id) == 1
    # The repeat found the capture: one gateway call in all.
    assert GatewayAttempt.objects.filter(payment__order_id=charge.order_id).count() == 1
    assert Payment.objects.get(order_id=charge.order_id).status == Payment.Status.CAPTURED


@pytest.mark.parametrize("where", ["refused", "hanging"])
def test_a_payments_deployment_that_does_not_answer_is_payment_gateway_unavailable(where):
    charge = request()
    with HangingServer() as hanging:
        url = (
            f"http://{hanging.url_host}"
            if where == "hanging"
            else f"http://127.0.0.1:{free_port()}"
        )
        with payments_at(
            url, INTERNAL_API_TIMEOUT_SECONDS=0.3, PAYMENT_GATEWAY_TIMEOUT_SECONDS=0.1
        ):
            # A batch reports it order by order, as a gateway outage does in process.
            outcome = remote.charge_for_orders(requests=[charge])[charge.order_id]
            with pytest.raises(PaymentGatewayUnavailable) as raised:
                remote.refund_for_order(order_id=charge.order_id)

    assert outcome.result == ChargeResult.UNAVAILABLE
    assert isinstance(outcome.error(), PaymentGatewayUnavailable)
    assert raised.value.http_status == 503


def test_the_internal_api_wants_the_service_token(api_client):
    with override_settings(SERVICE_TOKENS=["adapter-token"]):
        refused = api_client.post("/internal/v1/payments/charges", {"requests": []}, format="json")
        malformed = api_client.post(
            "/internal/v1/payments/charges",
            {"requests": [{"order_id": "nope"}]},
            format="json",
            HTTP_AUTHORIZATION="Service adapter-token",
        )

    assert refused.status_code == 401
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "PaymentError"
