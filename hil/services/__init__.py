"""Qt-free services behind the GUI: the bench session that runs checks, cards and descents in
a worker (``session``; its events in ``events``, a descent's watcher in ``descent_hook``, a
real-time descent's child process and its typed messages in ``descent_process``), the operator
that answers a card's questions through the GUI, and signal batches handed from bench threads
to the GUI thread. Nothing here imports Qt."""
