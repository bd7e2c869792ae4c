"""`manage.py seed --rows N`: deterministic demo data (N customers, 2N orders).

Running it again adds nothing for customers that already exist (matched by e-mail), so it can
be re-run safely; a larger N only adds the missing customers and their orders.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from core.models import Customer, Order

FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace",
    "Hedy", "Ivan", "John", "Katherine", "Linus", "Margaret", "Niklaus", "Radia",
)  # fmt: skip
LAST_NAMES = (
    "Allen", "Backus", "Conway", "Dijkstra", "Hamilton", "Hopper", "Johnson", "Knuth",
    "Lamarr", "Liskov", "Lovelace", "Perlman", "Ritchie", "Sutherland", "Turing", "Wirth",
)  # fmt: skip
ORDERS_PER_CUSTOMER = 2
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def customer_email(index: int) -> str:
    return f"customer{index:06d}@example.test"


class Command(BaseCommand):
    help = "Insert deterministic demo customers and orders (idempotent per customer e-mail)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=200, help="number of customers (200)")

    def handle(self, *args: Any, **options: Any) -> None:
        rows: int = options["rows"]
        if rows < 0:
            raise ValueError("--rows must be zero or more")
        emails = [customer_email(index) for index in range(rows)]
        existing = set(Customer.objects.filter(email__in=emails).values_list("email", flat=True))
        new_customers: list[Customer] = []
        new_orders: list[Order] = []
        with transaction.atomic():
            for index, email in enumerate(emails):
                if email in existing:
                    continue
                rng = random.Random(f"rollbook-seed-{index}")
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                created = EPOCH + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
                new_customers.append(Customer(name=name, email=email, created_at=created))
            Customer.objects.bulk_create(new_customers, batch_size=500)
            for customer in new_customers:
                rng = random.Random(f"rollbook-orders-{customer.email}")
                for _ in range(ORDERS_PER_CUSTOMER):
                    new_orders.append(
                        Order(
                            customer=customer,
                            amount=Decimal(rng.randrange(500, 500_000)) / 100,
                            status=rng.choice(Order.Status.values),
                            created_at=customer.created_at
                            + timedelta(minutes=rng.randrange(1, 90 * 24 * 60)),
                        )
                    )
            Order.objects.bulk_create(new_orders, batch_size=1000)
        self.stdout.write(
            f"seed: {len(new_customers)} customers and {len(new_orders)} orders inserted "
            f"({len(existing)} customers already present); "
            f"totals: {Customer.objects.count()} customers, {Order.objects.count()} orders"
        )
