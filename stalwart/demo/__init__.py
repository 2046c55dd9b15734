"""The reference application: a CRM's messaging back end, run by ``stalwart demo``.

Kept apart from the library: it only uses Stalwart's public API, as a user would.
"""
