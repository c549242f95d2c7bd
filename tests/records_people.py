"""People for record tests: the test's administrator, bootstrapped into the test's trust file
(``conftest.private_trust_file``) the first time a store needs one."""

from __future__ import annotations

from hil.records import Administrator, RecordStore, bootstrap_admin

ADMIN_ID = "admin"
ADMIN_SECRET = "admin-secret"


def administer(store: RecordStore) -> Administrator:
    """The test administrator of ``store`` (bootstrapped if its registry is empty), logged in."""
    if store.people.stored_head()[0] == 0:
        bootstrap_admin(store, ADMIN_ID, "Ada Admin", ADMIN_SECRET)
    return Administrator.login(store, ADMIN_ID, ADMIN_SECRET)
