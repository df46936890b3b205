"""The stack test: three containers of the production image behind haproxy (`cargo xtask stack --test`).

Environment (set by `cargo xtask stack --test`): STACK_URL (the load balancer), STRIPE_URL
(localstripe), MAILDIR (the SMTP sink's mailbox), DATABASE_URL and PSQL (to check what was stored),
REPLICAS (the containers' names, comma-separated), REPLICA_URLS (their own addresses, likewise) and
HAPROXY_SOCKET (the load balancer's admin socket).

1. A full purchase through the load balancer: register, list, reserve, pay by card, the
   confirmation email arrives; refund, the refund email arrives.
2. Under load (buyers reserving and paying through the load balancer), the first replica is
   killed with SIGKILL and started again: every acknowledged order survives, and none is doubled.
3. Under load, the second replica is taken out of the balancer, stopped with SIGTERM and started
   again, as a rolling update does it: it exits cleanly, no request fails at all, and every
   acknowledged order survives. Orders paid for are complete with their tickets sold.
4. Every email the outbox had to send was sent, each once; the only exception allowed is the one
   email the SIGKILLed replica may have been sending, sent again under its own Message-ID.

Waits are bounded polls of a condition; nothing sleeps for a fixed time to let work happen.
"""

from __future__ import annotations

import json
import mailbox
import os
import socket
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
# Each replica's own address, beside the load balancer's (to see one come back).
REPLICA_URLS = dict(zip(REPLICAS, os.environ["REPLICA_URLS"].split(",")))
PUBLISHABLE_KEY = "pk_test_offline"
BILLING = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Toronto", "postalCode": "M5V 2T6", "country": "CA"}


class Failed(Exception):
    pass


def call(method: str, path: str, body: dict | bytes | None = None, token: str | None = None) -> tuple[int, dict]:
    raw = isinstance(body, bytes)
    headers = {"content-type": "application/octet-stream" if raw else "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = body if raw else (json.dumps(body).encode() if body is not None else None)
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


def expect(status: int, method: str, path: str, body: dict | bytes | None = None, token: str | None = None) -> dict:
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


# A small, whole PDF: the ticket file a listing needs to be for sale.
TICKET_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def listed(name: str, price: int, seller: str) -> dict:
    """A listing of event `name` a month from now, with its ticket file."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))
    body = {"eventName": name, "venue": "Massey Hall", "city": "Toronto", "startsAt": starts,
            "timeZone": "America/Toronto", "faceValue": price, "price": price}
    ticket = expect(201, "POST", "/api/tickets", body, seller)
    return expect(200, "PUT", f"/api/tickets/{ticket['id']}/file", TICKET_PDF, seller)


def purchase() -> None:
    seller, _ = register("seller")
    buyer, email = register("buyer")
    ticket = listed("Stack concert", 4500, seller)
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
    """Buyers reserving listings through the load balancer, two of them paying, the rest cancelling
    (which puts the listing back in the pool), until stopped."""

    def __init__(self, buyers: list[str], listings: list[str]):
        self.buyers = buyers
        self.pool = list(listings)
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[str, str]] = []
        # Orders whose payment the server confirmed: (order, buyer, ticket).
        self.paid: list[tuple[str, str, str]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def take(self) -> str | None:
        with self.lock:
            return self.pool.pop(0) if self.pool else None

    def give_back(self, listing: str) -> None:
        with self.lock:
            self.pool.append(listing)

    def step(self, buyer: str, pays: bool, listing: str) -> None:
        status, answer = call("POST", "/api/orders", {"ticketId": listing}, buyer)
        if status != 201:
            self.failures.append(f"reserve: {status} {answer}")
            return
        order_id = answer["id"]
        self.acknowledged.append((order_id, buyer))
        if not pays:
            status, answer = call("POST", f"/api/orders/{order_id}/cancel", None, buyer)
            if status != 200:
                self.failures.append(f"cancel: {status} {answer}")
            else:
                self.give_back(listing)
            return
        status, answer = call("POST", "/api/payments", {"orderId": order_id}, buyer)
        if status != 200:
            self.failures.append(f"start payment: {status} {answer}")
            return
        body = {"orderId": order_id, "cardToken": card_token(), "billing": BILLING}
        status, answer = call("POST", "/api/payments/confirm", body, buyer)
        if status != 200 or answer["order"]["status"] != "complete":
            self.failures.append(f"confirm: {status} {answer}")
            return
        self.paid.append((order_id, buyer, listing))

    def work(self, buyer: str, pays: bool) -> None:
        while not self.stop.is_set():
            listing = self.take()
            if listing is None:
                self.failures.append("the load ran out of listings")
                return
            try:
                self.step(buyer, pays, listing)
            except Exception as err:  # noqa: BLE001 - every way a request can fail counts
                self.failures.append(f"{type(err).__name__}: {err}")

    def run(self, during) -> None:
        # Two of the buyers pay (each payment sells a listing for good); the others cancel theirs.
        threads = [threading.Thread(target=self.work, args=(buyer, n < 2)) for n, buyer in enumerate(self.buyers)]
        for thread in threads:
            thread.start()
        try:
            during()
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=120)
        if any(thread.is_alive() for thread in threads):
            raise Failed("a load thread did not finish")


def survivors(load: Load) -> None:
    """Every acknowledged order is still there, and every order paid for is complete, its ticket sold."""
    for order_id, buyer in load.acknowledged:
        status, answer = call("GET", f"/api/orders/{order_id}", None, buyer)
        if status != 200:
            raise Failed(f"acknowledged order {order_id} is gone: {status} {answer}")
    for order_id, buyer, listing in load.paid:
        order = expect(200, "GET", f"/api/orders/{order_id}", None, buyer)
        ticket = expect(200, "GET", f"/api/tickets/{listing}")
        if order["status"] != "complete" or ticket["status"] != "sold":
            raise Failed(f"paid order {order_id} is {order['status']}, its ticket {ticket['status']}")


def market(seller: str, count: int) -> list[str]:
    return [listed(f"Seat {n}", 2500, seller)["id"] for n in range(count)]


def replica_ready(name: str) -> bool:
    try:
        with urllib.request.urlopen(f"{REPLICA_URLS[name]}/api/readyz", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def haproxy(command: str) -> str:
    """A command on haproxy's admin socket (what taking a pod out of a Service's endpoints does)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
        admin.settimeout(5)
        admin.connect(os.environ["HAPROXY_SOCKET"])
        admin.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := admin.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()


def sessions(server: str) -> int:
    for line in haproxy("show stat").splitlines():
        fields = line.split(",")
        if len(fields) > 4 and fields[0] == "replicas" and fields[1] == server:
            return int(fields[4] or 0)
    raise Failed(f"haproxy does not know {server}")


def chaos(name: str, signal: str, buyers: list[str], seller: str) -> Load:
    """Load through the balancer the whole time `name` is stopped with `signal` and started again.

    SIGKILL comes unannounced. SIGTERM comes as a rolling update brings it: the replica is taken out
    of the balancer first and its open requests are let finish (the Service's endpoints and the
    Deployment's preStop sleep do this in a cluster), then it is stopped and must exit cleanly."""
    load = Load(buyers, market(seller, 150))
    server = f"replica{REPLICAS.index(name) + 1}"

    def acknowledged_more(than: int):
        return lambda: len(load.acknowledged) >= than

    def during() -> None:
        eventually("the load to get going", acknowledged_more(10), 60)
        if signal == "KILL":
            podman("kill", "--signal", "KILL", name)
        else:
            haproxy(f"set server replicas/{server} state drain")
            eventually(f"{name}'s open requests to finish", lambda: sessions(server) == 0, 30)
            podman("stop", "--time", "30", name)
            code = subprocess.run(
                ["podman", "--cgroup-manager=cgroupfs", "inspect", "--format", "{{.State.ExitCode}}", name],
                check=True, capture_output=True, text=True,
            ).stdout.strip()
            if code != "0":
                raise Failed(f"{name} exited with {code} after SIGTERM, not cleanly")
        if replica_ready(name):
            raise Failed(f"{name} still answers after SIG{signal}")
        down = len(load.acknowledged)
        eventually("orders while the replica is down", acknowledged_more(down + 20), 60)
        podman("start", name)
        eventually(f"{name} ready again", lambda: replica_ready(name), 60)
        if signal == "TERM":
            haproxy(f"set server replicas/{server} state ready")
        back = len(load.acknowledged)
        eventually("orders after it came back", acknowledged_more(back + 30), 60)

    load.run(during)
    survivors(load)
    print(f"stack: SIG{signal} of {name} under load: {len(load.acknowledged)} orders acknowledged and kept "
          f"({len(load.paid)} paid), {len(load.failures)} requests failed", flush=True)
    return load


def outbox_settled() -> bool:
    """No email left to send, being sent, or leased to a replica."""
    # Both email consumers: the buyer's (`notifications.email`) and the seller's
    # (`notifications.seller_email`), whose lease a killed replica may hold just as well.
    pending = sql(
        "SELECT count(*) FROM outbox_deliveries "
        "WHERE consumer IN ('notifications.email', 'notifications.seller_email') AND status <> 'delivered'"
    )
    sending = sql("SELECT count(*) FROM sent_emails WHERE status <> 'sent'")
    return pending == "0" and sending == "0"


def main() -> int:
    eventually("the load balancer", ready_through_balancer)
    purchase()
    seller, _ = register("seller")
    # Buyers of their own for each phase: holds a killed replica left behind count against theirs only.
    chaos(REPLICAS[0], "KILL", [register(f"buyer{n}")[0] for n in range(6)], seller)
    rolled = chaos(REPLICAS[1], "TERM", [register(f"buyer{n}")[0] for n in range(6)], seller)
    if rolled.failures:
        raise Failed(f"requests failed during the graceful restart: {rolled.failures[:5]}")
    # A replica killed mid-send leaves its delivery's lease (2 minutes) and its email's claim
    # (EMAIL_CLAIM_TIMEOUT, 20 s here) to run out before another replica sends that email.
    eventually("every email due to be sent", outbox_settled, 300)
    # A completed order emails its buyer and its seller; a refund, its buyer.
    expected = int(sql(
        "SELECT coalesce(sum(CASE kind WHEN 'order.completed' THEN 2 ELSE 1 END), 0) FROM outbox_events "
        "WHERE kind IN ('order.completed', 'order.refunded')"
    ))
    ids = [m["Message-ID"] for m in mails()]
    if len(set(ids)) != expected:
        raise Failed(f"{len(set(ids))} distinct emails for the {expected} the events send")
    # The one exception to "once": the SIGKILLed replica may have died after the mail server took an
    # email and before it could record that; that email goes out again, under the same Message-ID.
    again = len(ids) - len(set(ids))
    if again > 1:
        raise Failed(f"{again} emails were sent twice; at most the one the killed replica was sending may be")
    print(f"stack: {expected} emails, none lost, each sent once"
          + (f" (one sent again under its Message-ID: the SIGKILL came mid-send)" if again else ""), flush=True)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as failure:
        print(f"stack test failed: {failure}", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
