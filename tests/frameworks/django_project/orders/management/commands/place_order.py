"""``manage.py place_order EMAIL [--fail]``: an order and its fulfilment, in one transaction.

The task is sent with ``delay_on_commit``: only if the transaction commits. With
``--fail`` the transaction rolls back after the task was asked for, so nothing is sent.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.models import Order
from orders.tasks import fulfil, send_receipt


class Command(BaseCommand):
    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--fail", action="store_true")
        parser.add_argument("--receipts", type=int, default=0)

    def handle(self, *args: Any, email: str, fail: bool, receipts: int, **options: Any) -> None:
        try:
            with transaction.atomic():
                order = Order.objects.create(email=email)
                fulfil.delay_on_commit(order.id)  # sent only if the transaction commits
                if fail:
                    raise RuntimeError("payment declined")
        except RuntimeError as exc:
            raise CommandError(f"order for {email} rolled back: {exc}") from None
        for _ in range(receipts):
            send_receipt.delay(order.id)
        self.stdout.write(str(order.id))
