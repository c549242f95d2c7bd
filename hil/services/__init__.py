"""Qt-free services behind the GUI: the bench session that runs checks, cards and descents in
a worker, the operator that answers a card's questions through the GUI, and signal batches
handed from bench threads to the GUI thread. Nothing here imports Qt."""
