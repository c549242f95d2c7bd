"""The core every layer stands on: clocks, configuration files, signals, the executive and
the helpers of the compiled kernels. Nothing here knows a device, a card or a record."""
