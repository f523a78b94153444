"""The plan: parsing and repairing the architect's reply, project shapes a small model can follow, and the acceptance scenarios (format, repair, filter)."""
