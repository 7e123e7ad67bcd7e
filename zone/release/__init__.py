"""The release desk: how every product charges, runs and releases (``desk``), and receipts."""
