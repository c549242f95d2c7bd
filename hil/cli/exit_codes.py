"""The exit statuses of every ``hil`` command, defined once.

========== ===== ==========================================================================
name       value meaning
========== ===== ==========================================================================
EXIT_OK    0     the command did what was asked and everything it judged passed
EXIT_FAILED 1    it ran, and a check, card, verification or descent failed
EXIT_CONFIG 2    usage or configuration: a wrong argument, file, key, card or scenario
EXIT_LINK  3     a port or CAN interface could not be opened or went away
EXIT_INTERRUPTED 130  the operator pressed Ctrl-C
========== ===== ==========================================================================
"""

from __future__ import annotations

from hil.errors import ConfigError, HilError, LinkError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LINK = 3
EXIT_INTERRUPTED = 130


EPILOG = """exit status:
  0    passed: the command did what was asked and everything it judged passed
  1    failed: a check, card, verification or descent failed
  2    usage or configuration error: a wrong argument, file, key, card or scenario
  3    link error: a port or CAN interface could not be opened or went away
  130  interrupted by the operator (Ctrl-C)"""
"""What ``hil --help`` says of the exit statuses."""


def exit_status(err: HilError) -> int:
    """The exit status a command returns for ``err``."""
    if isinstance(err, ConfigError):
        return EXIT_CONFIG
    if isinstance(err, LinkError):
        return EXIT_LINK
    return EXIT_FAILED
