"""Zone: a privacy-preserving public data zone.

Raw datasets stay inside the zone; authorized callers receive the results of approved
computations ("products"), never rows.
"""

__version__ = "0.1.0"
