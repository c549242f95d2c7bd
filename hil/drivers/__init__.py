"""Links (CAN, serial) and device roles. Backends are found through ``hil.drivers.registry``."""
