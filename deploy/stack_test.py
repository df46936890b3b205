"""The stack test: three containers of the production image behind haproxy (`cargo xtask stack --test`).

Environment (set by `cargo xtask stack --test`): STACK_URL (the load balancer), STRIPE_URL
(localstripe), MAILDIR (the SMTP sink's mailbox), DATABASE_URL and PSQL (to check what was stored),
REPLICAS (the containers' names, comma-separated).

1. A full purchase through the load balancer: register, list, reserve, pay by card, the
   confirmation email arrives; refund, the refund email arrives.
2. Under load (buyers reserving and paying through the load balancer), the first replica is
   killed with SIGKILL and started again: every acknowledged order survives, and none is doubled.
3. Under load, the second replica is stopped with SIGTERM (as a rolling update does) and started
   again: no request fails at all, and every acknowledged order survives.
4. Every email the outbox had to send was sent exactly once.

Waits are bounded polls of a condition; nothing sleeps for a fixed time to let work happen.
"""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

BASE = os.environ["STACK_URL"].rstrip("/")
STRIPE = os.environ["STRIPE_URL"].rstrip("/")
MAILDIR = os.environ["MAILDIR"]
REPLICAS = os.environ["REPLICAS"].split(",")
PUBLISHABLE_KEY = "pk_test_offline"
BILLING = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Toronto", "postalCode": "M5V 2T6", "country": "CA"}


class Failed(Exception):
    pass


def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"raw": text.decode(errors="replace")}


def expect(status: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    got, answer = call(method, path, body, token)
    if got != status:
        raise Failed(f"{method} {path}: {got}, expected {status}: {answer}")
    return answer


def register(who: str) -> tuple[str, str]:
    email = f"{who}-{uuid.uuid4().hex[:10]}@example.com"
    answer = expect(201, "POST", "/api/users/register", {"email": email, "password": "stack test password", "termsAccepted": True})
    return answer["token"], email


def card_token() -> str:
    form = f"card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2031&card[cvc]=123&key={PUBLISHABLE_KEY}"
    request = urllib.request.Request(f"{STRIPE}/v1/tokens", data=form.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]


def pay(order_id: str, token: str) -> dict:
    expect(200, "POST", "/api/payments", {"orderId": order_id}, token)
    body = {"orderId": order_id, "cardToken": card_token(), "billing": BILLING}
    return expect(200, "POST", "/api/payments/confirm", body, token)


def eventually(what: str, check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise Failed(f"not within {seconds} s: {what}")


def mails() -> list:
    if not os.path.isdir(MAILDIR):
        return []
    return list(mailbox.Maildir(MAILDIR, create=False))


def sql(query: str) -> str:
    out = subprocess.run([os.environ["PSQL"], os.environ["DATABASE_URL"], "-tAc", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def podman(*args: str) -> None:
    subprocess.run(["podman", "--cgroup-manager=cgroupfs", *args], check=True, capture_output=True)


def ready_through_balancer() -> bool:
    return call("GET", "/api/readyz")[0] == 200


def purchase() -> None:
    seller, _ = register("seller")
    buyer, email = register("buyer")
    ticket = expect(201, "POST", "/api/tickets", {"title": "Stack concert", "price": 4500}, seller)
    order = expect(201, "POST", "/api/orders", {"ticketId": ticket["id"]}, buyer)
    paid = pay(order["id"], buyer)
    if paid["order"]["status"] != "complete":
        raise Failed(f"not complete: {paid}")
    eventually("the confirmation email", lambda: any(m["To"] == email and "confirmed" in m["Subject"].lower() for m in mails()))
    refunded = expect(200, "POST", f"/api/orders/{order['id']}/refund", {}, buyer)
    if refunded["status"] != "refunded":
        raise Failed(f"not refunded: {refunded}")
    eventually("the refund email", lambda: sum(m["To"] == email for m in mails()) >= 2)
    print(f"stack: a purchase through the load balancer: paid, emailed, refunded, emailed ({email})", flush=True)


class Load:
    """Buyers reserving listings through the load balancer, some paying, until stopped."""

    def __init__(self, buyers: list[str], listings: list[str]):
        self.buyers, self.listings = buyers, listings
        self.next = 0
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[str, str]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def take(self) -> str | None:
        with self.lock:
            if self.next >= len(self.listings):
                return None
            self.next += 1
            return self.listings[self.next - 1]

    def work(self, buyer: str, pays: bool) -> None:
        while not self.stop.is_set():
            listing = self.take()
            if listing is None:
                return
            try:
                status, answer = call("POST", "/api/orders", {"ticketId": listing}, buyer)
                if status != 201:
                    self.failures.append(f"reserve: {status} {answer}")
                    continue
                self.acknowledged.append((answer["id"], buyer))
                if pays:
                    status, answer = call("POST", "/api/payments", {"orderId": answer["id"]}, buyer)
                    if status != 200:
                        self.failures.append(f"start payment: {status} {answer}")
                        continue
                    body = {"orderId": answer["orderId"], "cardToken": card_token(), "billing": BILLING}
                    status, answer = call("POST", "/api/payments/confirm", body, buyer)
                    if status != 200:
                        self.failures.append(f"confirm: {status} {answer}")
                else:
                    call("POST", f"/api/orders/{answer['id']}/cancel", None, buyer)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                self.failures.append(f"no answer: {err}")

    def run(self, during) -> None:
        threads = [threading.Thread(target=self.work, args=(buyer, n % 2 == 0)) for n, buyer in enumerate(self.buyers)]
        for thread in threads:
            thread.start()
        try:
            during()
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=120)


def survivors(load: Load) -> None:
    for order_id, buyer in load.acknowledged:
        status, answer = call("GET", f"/api/orders/{order_id}", None, buyer)
        if status != 200:
            raise Failed(f"acknowledged order {order_id} is gone: {status} {answer}")
    doubled = sql(
        "SELECT count(*) FROM (SELECT ticket_id FROM orders WHERE status IN ('created', 'awaiting_payment', 'complete') "
        "GROUP BY ticket_id HAVING count(*) > 1) AS doubled"
    )
    if doubled != "0":
        raise Failed(f"{doubled} listings have two live orders")


def market(seller: str, count: int) -> list[str]:
    return [expect(201, "POST", "/api/tickets", {"title": f"Seat {n}", "price": 2500}, seller)["id"] for n in range(count)]


def chaos(name: str, signal: str, buyers: list[str], seller: str) -> Load:
    load = Load(buyers, market(seller, 60))

    def during() -> None:
        eventually("the load to get going", lambda: len(load.acknowledged) >= 5, 60)
        if signal == "KILL":
            podman("kill", "--signal", "KILL", name)
        else:
            podman("stop", "--time", "30", name)
        eventually("orders while a replica is down", lambda: len(load.acknowledged) >= 15, 60)
        podman("start", name)
        eventually("the load balancer to see every replica ready", ready_through_balancer, 60)
        eventually("orders after the restart", lambda: load.next >= len(load.listings), 120)

    load.run(during)
    survivors(load)
    print(f"stack: {signal} of {name} under load: {len(load.acknowledged)} orders acknowledged and kept, "
          f"{len(load.failures)} requests failed", flush=True)
    return load


def main() -> int:
    eventually("the load balancer", ready_through_balancer)
    purchase()
    seller, _ = register("seller")
    # Buyers of their own for each phase: holds a killed replica left behind count against theirs only.
    chaos(REPLICAS[0], "KILL", [register(f"buyer{n}")[0] for n in range(6)], seller)
    rolled = chaos(REPLICAS[1], "TERM", [register(f"buyer{n}")[0] for n in range(6)], seller)
    if rolled.failures:
        raise Failed(f"requests failed during the graceful restart: {rolled.failures[:5]}")
    completed = int(sql("SELECT count(*) FROM orders WHERE status IN ('complete', 'refunded')"))
    refunded = int(sql("SELECT count(*) FROM orders WHERE status = 'refunded'"))
    expected = completed + refunded
    eventually(f"{expected} emails", lambda: len(mails()) >= expected, 120)
    ids = [m["Message-ID"] for m in mails()]
    if len(ids) != expected or len(set(ids)) != len(ids):
        raise Failed(f"{len(ids)} emails ({len(set(ids))} distinct) for {expected} that were due")
    print(f"stack: {expected} emails, each sent once", flush=True)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as failure:
        print(f"stack test failed: {failure}", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
