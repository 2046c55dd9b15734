"""The CRM's tasks, registered on :data:`app` (``-A stalwart.demo.tasks:app``).

- :mod:`.sending`   ``send_sms`` with every limit the provider imposes
- :mod:`.webhooks`  ``process_webhook``
- :mod:`.imports`   ``import_chunk`` and ``merge_import``
- :mod:`.periodic`  ``provider_sync``, ``nightly_cleanup``, ``weekly_report``
"""

from stalwart.demo.app import app
from stalwart.demo.tasks.imports import import_chunk, merge_import
from stalwart.demo.tasks.periodic import nightly_cleanup, provider_sync, weekly_report
from stalwart.demo.tasks.sending import send_sms
from stalwart.demo.tasks.webhooks import process_webhook

__all__ = [
    "app",
    "import_chunk",
    "merge_import",
    "nightly_cleanup",
    "process_webhook",
    "provider_sync",
    "send_sms",
    "weekly_report",
]
