"""Errors of the as-run record store, identities and sign-off (all under ``HilError``).

::

    HilError
    +-- RecordError                     anything this package refuses on purpose
        +-- StorageError (OSError)      the data directory or database cannot be read or written:
        |                               full disk, read-only folder, newer schema; names the file
        +-- UnknownRecord (LookupError) no run or person with that id (or an ambiguous prefix)
        +-- AuthenticationError (PermissionError)
        |                               wrong secret, locked or revoked person; the attempt is
        |                               logged and counted towards lockout
        +-- SignoffRefused              a sign-off rule forbids this signature (an RII inspector
                                        who performed a covered step, an expired authorization,
                                        a step not yet complete, a missing reason)
"""

from __future__ import annotations

from hil.errors import HilError


class RecordError(HilError):
    """Base of the errors raised by ``hil.records``."""


class StorageError(RecordError, OSError):
    """The record database or its data directory cannot be used. Nothing already written is lost:
    the failed write was rolled back."""


class UnknownRecord(RecordError, LookupError):
    """No run or person matches the id given."""


class AuthenticationError(RecordError, PermissionError):
    """The person could not be authenticated (wrong secret, locked out, revoked)."""


class SignoffRefused(RecordError):
    """A sign-off rule forbids the signature, correction or redline asked for."""
