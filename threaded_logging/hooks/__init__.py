"""Request hooks: turn outgoing API calls into structured LogRecords."""
