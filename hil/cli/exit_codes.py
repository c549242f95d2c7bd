"""The exit statuses of every ``hil`` command, defined once; ``hil --help`` prints ``EPILOG``.

================ ===== ======================================================================
name             value meaning
================ ===== ======================================================================
EXIT_OK          0     the command did what was asked and everything it judged passed
EXIT_FAILED      1     it ran, and a check, card, verification or descent failed, or the
                       records or fleet refused what was asked (a sign-off, a release)
EXIT_CONFIG      2     usage or configuration: a wrong argument, file, key, card, scenario,
                       or an id (run, person, lander, defect...) that does not exist
EXIT_LINK        3     a port or CAN interface could not be opened, went away or a device
                       stopped answering
EXIT_INTERNAL    70    a bug in ``hil`` itself: an exception nobody expected (sysexits.h
                       EX_SOFTWARE); ``--debug`` shows the traceback
EXIT_INTERRUPTED 130   the operator pressed Ctrl-C
================ ===== ======================================================================

A command never returns a literal number: handlers return these names, and
``hil.cli.main.main`` turns a ``HilError`` into one with ``exit_status``.
"""

from __future__ import annotations

from hil.errors import ConfigError, DeviceTimeout, HilError, LinkError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LINK = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


EPILOG = f"""exit status:
  {EXIT_OK}    passed: the command did what was asked and everything it judged passed
  {EXIT_FAILED}    failed: a check, card, verification or descent failed, or a request was refused
  {EXIT_CONFIG}    usage or configuration error: a wrong argument, file, key, card, scenario or
       an unknown id (run, person, lander...)
  {EXIT_LINK}    link error: a port or CAN interface could not be opened or went away, or a
       device stopped answering
  {EXIT_INTERNAL}   internal error: a bug in hil (run again with --debug for the traceback)
  {EXIT_INTERRUPTED}  interrupted by the operator (Ctrl-C)"""
"""What ``hil --help`` says of the exit statuses."""


def exit_status(err: HilError) -> int:
    """The exit status a command returns for ``err``: configuration errors and unknown ids
    (``LookupError``: a run, person, lander... that does not exist) are usage errors, a link
    or a device that stopped answering is a link error, anything else refused is a FAIL."""
    if isinstance(err, ConfigError | LookupError):
        return EXIT_CONFIG
    if isinstance(err, LinkError | DeviceTimeout):
        return EXIT_LINK
    return EXIT_FAILED
