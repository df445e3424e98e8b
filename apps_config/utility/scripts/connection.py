# Grid connection (DOMAIN §1): the regulated deadline of each stage.

import datetime


def register(record):
    """default of a request: its category by maximum load; conditions and contract are due in
    10 working days (20 for over 150 kW)."""
    record.received_on = today()
    if record.max_kw is not None:
        record.category = "small" if record.max_kw <= 15 else ("medium" if record.max_kw <= 150 else "large")
    days = 20 if record.category == "large" else 10
    record.offer_due_on = business_add(now(), str(days) + " business days").astimezone(now().tzinfo).date()


def signed(record):
    """before of "sign": execution is due 6 months after the contract for up to 150 kW, a year above."""
    months = 6 if record.category in ("small", "medium") else 12
    year = record.signed_on.year + (record.signed_on.month - 1 + months) // 12
    month = (record.signed_on.month - 1 + months) % 12 + 1
    day = min(record.signed_on.day, 28)
    record.execution_due_on = datetime.date(year, month, day)


def executed(record):
    """before of "execute": the documents are due 5 working days after execution."""
    record.executed_on = today()
    record.documents_due_on = business_add(now(), "5 business days").astimezone(now().tzinfo).date()
