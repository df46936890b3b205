"""Stripe Connect for localstripe, which has none: what Ticket Exchange uses of it, shaped as Stripe
documents it (https://docs.stripe.com/api/accounts, /account_links, /transfers,
/transfer_reversals, the `account.updated` event), so the same client code runs against both.

- `POST /v1/accounts`, `GET /v1/accounts/{id}`, `GET /v1/accounts`: connected accounts. A new one
  has nothing submitted: its `transfers` capability is inactive, `payouts_enabled` false and
  `requirements.currently_due` lists what onboarding collects.
- `POST /v1/account_links`: a single-use onboarding link that expires after 300 seconds. Its `url`
  is a page of this server standing in for Stripe's hosted onboarding: submitting it completes the
  account (transfers active, payouts enabled), sends `account.updated` and returns the visitor to
  `return_url`; a used or expired link sends them to `refresh_url`, as Stripe does.
- `POST /v1/transfers`, `GET /v1/transfers/{id}`, `GET /v1/transfers?transfer_group=&destination=`:
  a transfer needs a destination whose `transfers` capability is active
  (`insufficient_capabilities_for_transfer` otherwise), and with `source_transaction` the charge's
  transfers together cannot exceed its amount.
- `POST /v1/transfers/{id}/reversals`, `GET /v1/transfers/{id}/reversals`: reversals, never more
  than what was transferred.
- `Idempotency-Key` on these writes: the first answer (an error included) is replayed for a repeated
  key with the same request; the same key with another request is an `idempotency_error`. (Kept for
  the life of the process; Stripe keeps keys for 24 hours.) localstripe's own endpoints ignore keys.
- `POST /_config/connect/accounts/{id}` with `state=enabled|restricted`: what Stripe's side can do to
  an account at any time (a review restricts it, new details enable it), with its `account.updated`.
- PaymentIntents also accept `transfer_group`, which links the charge to its transfers.
Lists come newest first, as Stripe's do.
"""

import html
import time

from aiohttp import web

from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import Event, List, StripeObject, store, random_id
from localstripe.server import get_post_data, json_response, unflatten_data
from localstripe.webhooks import schedule_webhook

LINK_LIFETIME = 300

ONBOARDING_REQUIREMENTS = [
    "business_type",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def _integer(value):
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _invalid(message, param=None, code=None):
    contents = {}
    if param:
        contents["param"] = param
    if code:
        contents["code"] = code
    return UserError(400, message, contents)


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, type=None, country=None, email=None, capabilities=None, business_type=None,
                 metadata=None, controller=None, **kwargs):
        if kwargs:
            raise _invalid("Received unknown parameters: " + ", ".join(kwargs))
        if type is None and controller is None:
            raise _invalid("You must specify either `type` or `controller`.", "type")
        if type not in (None, "express", "standard", "custom"):
            raise _invalid("Invalid type: must be one of express, standard or custom", "type")
        if capabilities is not None and not isinstance(capabilities, dict):
            raise _invalid("Invalid capabilities", "capabilities")
        if metadata is not None and not isinstance(metadata, dict):
            raise _invalid("Invalid metadata", "metadata")
        super().__init__()
        self.type = type or "express"
        self.country = country or "CA"
        self.email = email
        self.business_type = business_type
        self.metadata = metadata or {}
        self.capabilities = {name: "inactive" for name in (capabilities or {"transfers": {}})}
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False
        self.requirements = {
            "currently_due": list(ONBOARDING_REQUIREMENTS),
            "eventually_due": list(ONBOARDING_REQUIREMENTS),
            "past_due": [],
            "disabled_reason": "requirements.past_due",
            "current_deadline": None,
        }

    def _become(self, state):
        if state == "enabled":
            self.details_submitted = True
            self.charges_enabled = True
            self.payouts_enabled = True
            self.capabilities = {name: "active" for name in self.capabilities}
            self.requirements = dict(self.requirements, currently_due=[], eventually_due=[], past_due=[],
                                     disabled_reason=None)
        elif state == "restricted":
            self.payouts_enabled = False
            self.capabilities = {name: "inactive" for name in self.capabilities}
            due = ["individual.verification.document"]
            self.requirements = dict(self.requirements, currently_due=due, past_due=due,
                                     disabled_reason="requirements.past_due")
        else:
            raise _invalid("state must be enabled or restricted", "state")
        store["account:" + self.id] = self
        event = Event("account.updated", self)
        # Events about a connected account name it, as Stripe's Connect webhooks do.
        event.account = self.id
        schedule_webhook(event)


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, amount=None, currency=None, destination=None, transfer_group=None,
                 source_transaction=None, description=None, metadata=None, **kwargs):
        if kwargs:
            raise _invalid("Received unknown parameters: " + ", ".join(kwargs))
        amount = _integer(amount)
        if amount is None or amount <= 0:
            raise _invalid("Invalid positive integer", "amount")
        if not isinstance(currency, str) or len(currency) != 3:
            raise _invalid("Invalid currency", "currency")
        if not isinstance(destination, str):
            raise _invalid("Missing required param: destination.", "destination")
        account = store.get("account:" + destination)
        if account is None:
            raise _invalid("No such destination: '%s'" % destination, "destination", "resource_missing")
        if account.capabilities.get("transfers") != "active":
            raise _invalid(
                "Your destination account needs to have at least one of the following capabilities "
                "enabled: transfers, crypto_transfers, legacy_payments",
                "destination", "insufficient_capabilities_for_transfer")
        if source_transaction is not None:
            charge = store.get("charge:" + str(source_transaction))
            if charge is None:
                raise _invalid("No such charge: '%s'" % source_transaction, "source_transaction",
                               "resource_missing")
            if charge.currency.lower() != currency.lower():
                raise _invalid("The currency of source_transaction's balance transaction must be the "
                               "same as the transfer currency.", "currency")
            already = sum(transfer.amount for transfer in _transfers()
                          if transfer.source_transaction == source_transaction)
            if already + amount > charge.amount:
                raise _invalid("Insufficient funds in the source transaction: the transfers from it "
                               "would exceed its amount.", "amount", "balance_insufficient")
        super().__init__()
        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency.lower()
        self.destination = destination
        self.transfer_group = transfer_group
        self.source_transaction = source_transaction
        self.description = description
        self.metadata = metadata or {}
        self.reversed = False
        self._reversals = []

    @property
    def reversals(self):
        reversals = List("/v1/transfers/%s/reversals" % self.id, limit=100)
        reversals._list = list(reversed(self._reversals))
        return reversals


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer, amount, metadata):
        super().__init__()
        self.transfer = transfer.id
        self.amount = amount
        self.currency = transfer.currency
        self.metadata = metadata or {}


def _transfers():
    return [value for key, value in store.items() if key.startswith("transfer:")]


def _reverse(transfer_id, amount=None, metadata=None, **kwargs):
    if kwargs:
        raise _invalid("Received unknown parameters: " + ", ".join(kwargs))
    transfer = Transfer._api_retrieve(transfer_id)
    remaining = transfer.amount - transfer.amount_reversed
    amount = remaining if amount is None else _integer(amount)
    if remaining == 0:
        raise _invalid("Transfer %s is already fully reversed." % transfer.id, code="transfer_already_reversed")
    if amount is None or amount <= 0 or amount > remaining:
        raise _invalid("Invalid amount: at most %d remains to reverse." % remaining, "amount")
    reversal = TransferReversal(transfer, amount, metadata)
    transfer._reversals.append(reversal)
    transfer.amount_reversed += amount
    transfer.reversed = transfer.amount_reversed == transfer.amount
    store["transfer:" + transfer.id] = transfer
    return reversal


def _idempotency_error(status, message):
    error = UserError(status, message)
    error.body["error"]["type"] = "idempotency_error"
    return error


# Onboarding links: code -> (account id, return_url, refresh_url, expires_at); single use (a used
# link's expiry is set to 0).
_links = {}
# Idempotency-Key -> (request fingerprint, status, body), or None while the first request runs.
_replies = {}


def idempotent(handler):
    async def serve(request):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await handler(request)
        fingerprint = (request.method, request.path, await request.read())
        if key in _replies:
            saved = _replies[key]
            if saved is None:
                raise _idempotency_error(409, "There is currently another in-progress request using "
                                         "this Idempotent Key.")
            if saved[0] != fingerprint:
                raise _idempotency_error(400, "Keys for idempotent requests can only be used with the "
                                         "same parameters they were first used with.")
            response = web.Response(status=saved[1], body=saved[2], content_type="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        _replies[key] = None
        try:
            response = await handler(request)
        except UserError as error:
            response = error.to_response()
        except Exception:
            del _replies[key]
            raise
        _replies[key] = (fingerprint, response.status, response.body)
        return response
    return serve


async def _form(request):
    data = await get_post_data(request) or {}
    data.pop("expand", None)
    return data


async def create_account(request):
    return json_response(Account(**(await _form(request)))._export())


async def retrieve_account(request):
    return json_response(Account._api_retrieve(request.match_info["id"])._export())


async def list_accounts(request):
    query = unflatten_data(request.query)
    accounts = List("/v1/accounts", limit=query.get("limit"), starting_after=query.get("starting_after"))
    # Newest first, as Stripe lists.
    accounts._list = [value for key, value in reversed(store.items()) if key.startswith("account:")]
    return json_response(accounts._export())


async def create_account_link(request):
    data = await _form(request)
    account = data.get("account")
    if not isinstance(account, str) or store.get("account:" + account) is None:
        raise _invalid("No such account: '%s'" % account, "account", "resource_missing")
    for url in ("refresh_url", "return_url"):
        if not isinstance(data.get(url), str) or not data[url].startswith("http"):
            raise _invalid("Not a valid URL", url, "url_invalid")
    if data.get("type") not in ("account_onboarding", "account_update"):
        raise _invalid("Invalid type: must be account_onboarding or account_update", "type")
    created = int(time.time())
    code = random_id(24)
    _links[code] = (account, data["return_url"], data["refresh_url"], created + LINK_LIFETIME)
    url = "%s://%s/_config/connect/onboarding/%s" % (request.scheme, request.host, code)
    return json_response({"object": "account_link", "created": created, "expires_at": created + LINK_LIFETIME,
                          "url": url})


def _link(request):
    return _links.get(request.match_info["code"])


async def onboarding_page(request):
    link = _link(request)
    if link is None:
        raise web.HTTPNotFound(text="No such account link")
    if link[3] < time.time():
        raise web.HTTPSeeOther(link[2])
    account = Account._api_retrieve(link[0])
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set up payouts (Stripe stand-in)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto;">
<main><h1>Set up payouts</h1>
<p>This page stands in for Stripe's hosted onboarding of the connected account
<code>{html.escape(account.id)}</code> ({html.escape(account.email or "no email")}).</p>
<form method="post"><button type="submit">Submit details</button></form></main></body></html>"""
    return web.Response(text=page, content_type="text/html")


async def submit_onboarding(request):
    link = _link(request)
    if link is None:
        raise web.HTTPNotFound(text="No such account link")
    if link[3] < time.time():
        raise web.HTTPSeeOther(link[2])
    _links[request.match_info["code"]] = link[:3] + (0,)
    Account._api_retrieve(link[0])._become("enabled")
    raise web.HTTPSeeOther(link[1])


async def set_account_state(request):
    data = await _form(request)
    account = Account._api_retrieve(request.match_info["id"])
    account._become(data.get("state"))
    return json_response(account._export())


async def create_transfer(request):
    return json_response(Transfer(**(await _form(request)))._export())


async def retrieve_transfer(request):
    return json_response(Transfer._api_retrieve(request.match_info["id"])._export())


async def list_transfers(request):
    query = unflatten_data(request.query)
    group, destination = query.pop("transfer_group", None), query.pop("destination", None)
    limit, after = query.pop("limit", None), query.pop("starting_after", None)
    if query:
        raise _invalid("Received unknown parameters: " + ", ".join(query))
    transfers = List("/v1/transfers", limit=limit, starting_after=after)
    transfers._list = [transfer for transfer in reversed(_transfers())
                       if (group is None or transfer.transfer_group == group)
                       and (destination is None or transfer.destination == destination)]
    return json_response(transfers._export())


async def create_reversal(request):
    data = await _form(request)
    return json_response(_reverse(request.match_info["id"], **data)._export())


async def list_reversals(request):
    return json_response(Transfer._api_retrieve(request.match_info["id"]).reversals._export())


def _accept_transfer_group():
    original = resources.PaymentIntent.__init__

    def init(self, transfer_group=None, **kwargs):
        if transfer_group is not None and not isinstance(transfer_group, str):
            raise _invalid("Invalid transfer_group", "transfer_group")
        original(self, **kwargs)
        self.transfer_group = transfer_group

    resources.PaymentIntent.__init__ = init


def install(app):
    """Adds the Connect endpoints to localstripe's application (before it starts)."""
    _accept_transfer_group()
    app.router.add_post("/v1/accounts", idempotent(create_account))
    app.router.add_get("/v1/accounts", list_accounts)
    app.router.add_get("/v1/accounts/{id}", retrieve_account)
    app.router.add_post("/v1/account_links", idempotent(create_account_link))
    app.router.add_post("/v1/transfers", idempotent(create_transfer))
    app.router.add_get("/v1/transfers", list_transfers)
    app.router.add_get("/v1/transfers/{id}", retrieve_transfer)
    app.router.add_post("/v1/transfers/{id}/reversals", idempotent(create_reversal))
    app.router.add_get("/v1/transfers/{id}/reversals", list_reversals)
    app.router.add_get("/_config/connect/onboarding/{code}", onboarding_page)
    app.router.add_post("/_config/connect/onboarding/{code}", submit_onboarding)
    app.router.add_post("/_config/connect/accounts/{id}", set_account_state)
