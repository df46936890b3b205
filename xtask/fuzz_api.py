"""Fuzzes the running server's API with schemathesis, signed in.

Usage: python fuzz_api.py BASE_URL REPORT_DIR

Sets up a small market (the fuzzing account's own listing, and an order it holds on a seller's
listing), then runs schemathesis over every operation of the server's own spec
(`/api/openapi.json`) with a fixed seed and a bounded number of cases per operation, sending the
account's bearer token. Operations that take an id get those real ids, so cases reach the handlers'
rules instead of stopping at 404. Fails on any 5xx and on any response the spec does not allow. A
JUnit report goes to REPORT_DIR.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

SEED = "20261123"
MAX_EXAMPLES = "30"
LOGOUT = "/api/users/logout"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def post(base_url: str, path: str, body: dict, token: str | None = None) -> dict:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_until_ready(base_url: str) -> None:
    for _ in range(400):
        try:
            with urllib.request.urlopen(base_url + "/api/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"the server at {base_url} did not become ready")


def known_ids(config: Path, ticket_id: str, order_id: str) -> None:
    """A schemathesis config giving id-taking operations ids that exist."""
    config.write_text(
        f"""
[[operations]]
include-path = "/api/tickets/{{id}}"
parameters = {{ "path.id" = "{ticket_id}" }}

[[operations]]
include-path-regex = '^/api/orders/'
parameters = {{ "path.id" = "{order_id}" }}

[[operations]]
include-path-regex = '^/api/payments'
parameters = {{ "body.orderId" = "{order_id}" }}
"""
    )


def schemathesis(base_url: str, token: str, report_dir: Path, config: Path, paths: list[str]) -> int:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/api/openapi.json",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--seed",
        SEED,
        "--max-examples",
        MAX_EXAMPLES,
        "--generation-deterministic",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        *paths,
    ]
    shown = ["Authorization: Bearer ***" if "Bearer" in part else part for part in command]
    print("fuzz:", " ".join(shown), flush=True)
    return subprocess.run(command, check=False).returncode


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, report_dir = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    report_dir.mkdir(parents=True, exist_ok=True)
    wait_until_ready(base_url)
    def register(who: str) -> str:
        email = f"{who}-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": "fuzzing password", "termsAccepted": True}
        return post(base_url, "/api/users/register", body)["token"]

    token, seller = register("fuzz"), register("seller")
    own = post(base_url, "/api/tickets", {"title": "Fuzzed concert", "price": 4200}, token)
    theirs = post(base_url, "/api/tickets", {"title": "Seller's concert", "price": 5100}, seller)
    order = post(base_url, "/api/orders", {"ticketId": theirs["id"]}, token)
    config = report_dir / "schemathesis.toml"
    known_ids(config, own["id"], order["id"])

    # Everything but logout first (logging out ends the session the run signs in with), then logout.
    everything = schemathesis(base_url, token, report_dir / "operations", config, ["--exclude-path", LOGOUT])
    logout = schemathesis(base_url, token, report_dir / "logout", config, ["--include-path", LOGOUT])
    return everything or logout


if __name__ == "__main__":
    sys.exit(main())
