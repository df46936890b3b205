"""Starts localstripe (the Stripe-compatible server), with the Connect endpoints it lacks
(localstripe_connect.py) and its store kept where we say.

localstripe saves its whole store to /tmp/localstripe.pickle after every change, shared by every
instance on the machine. Here the store lives in the file named by LOCALSTRIPE_STORE (the offline run
keeps it under .data/), or only in memory when that is unset (tests: one private instance each).
Arguments are localstripe's own, e.g. --port 8420.
"""

import os
import pickle
import sys

from localstripe import resources
from localstripe.server import app, start

import localstripe_connect

STORE = os.environ.get("LOCALSTRIPE_STORE")


def load(store):
    if STORE and os.path.exists(STORE):
        with open(STORE, "rb") as f:
            store.clear()
            store.update(pickle.load(f))


def dump(store):
    if STORE:
        partial = STORE + ".partial"
        with open(partial, "wb") as f:
            pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, STORE)


resources.Store.try_load_from_disk = load
resources.Store.dump_to_disk = dump
localstripe_connect.install(app)
sys.argv[0] = "localstripe"
sys.exit(start())
