# Restriction and reconnection of supply (DOMAIN §1): who initiates, the regulated terms.

import datetime

INITIATORS = {"debt": "billing", "own_request": "consumer", "safety": "grid", "reconnect": "billing"}
RECONNECT_HOURS = 24  # from the notice that the reason is gone


def register(record):
    """default of a request: when it came, who initiates it, the consumer's address and e-mail.
    The consumer's own application is done on the date asked for, a safety one at once; a
    request to reconnect after payment starts its 24 hours now."""
    record.received_at = now()
    record.initiator = INITIATORS.get(record.reason)
    consumer = get("consumer", record.consumer) if record.consumer else None
    if consumer:
        record.address = record.address or consumer.address
        record.email = record.email or consumer.email
    if record.reason == "own_request":
        record.restrict_not_before = record.requested_on or today()
    elif record.reason == "safety":
        record.restrict_not_before = today()
    elif record.reason == "reconnect":
        record.cleared_at = now()
        record.reconnect_due_at = now() + datetime.timedelta(hours=RECONNECT_HOURS)


def notice_term(record):
    """before of "notify": the restriction for a debt comes no earlier than 10 working days after
    the notice for a company or a sole trader, 20 days for a household."""
    consumer = get("consumer", record.consumer)
    if consumer and consumer.kind == "person":
        record.restrict_not_before = today() + datetime.timedelta(days=20)
    else:
        record.restrict_not_before = business_add(now(), "10 business days").astimezone(now().tzinfo).date()


def visit_allowed(record):
    """before of "schedule": a debtor is notified first, and nobody is restricted before the term."""
    if record.reason == "debt" and record.status != "notified":
        reject("Сначала направьте потребителю уведомление о введении ограничения")
    if record.restrict_not_before and record.visit_on < record.restrict_not_before:
        reject("Ограничение можно ввести не ранее " + record.restrict_not_before.strftime("%d.%m.%Y")
               + ": выберите дату выезда не раньше")


def reason_gone(record):
    """before of "clear": the reason is gone now (a reconnection request came with it), and supply
    is due back within 24 hours."""
    if not record.cleared_at:
        record.cleared_at = now()
    record.reconnect_due_at = record.cleared_at + datetime.timedelta(hours=RECONNECT_HOURS)
