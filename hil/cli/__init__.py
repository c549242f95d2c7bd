"""The ``hil`` command: one module per command group, the output helpers they share and the
exit statuses every command returns. Entry point: :func:`hil.cli.main.main`."""
