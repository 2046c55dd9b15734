"""The console's routes, one module per page and its JSON twin under ``/api``."""
