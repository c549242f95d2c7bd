"""Simulated backends: the simulated flight computer and the sensor emulators attached to it.

They implement the same role bases as the wire drivers and talk over the same links: a
python-can bus on the bench's channel and pseudo-terminal pairs for the serial lines.
"""
