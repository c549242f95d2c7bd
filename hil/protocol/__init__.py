"""What the interface control document defines: the FC's parameter table, its modes and
error codes, and the rates of the periodic messages. The CAN database is the source of
truth for CAN traffic; this package reads it and ties the rest to it."""
