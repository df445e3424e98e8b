# Meter requests (DOMAIN §1): deadline, paid services, field tasks.


def request_defaults(record):
    """default of a meter request: the regulated 30 working days from today."""
    record.due_on = business_add(now(), "30 business days").astimezone(now().tzinfo).date()


def paid_first(record):
    """before of "schedule": a paid service is visited once its contract is signed and paid."""
    if record.paid and not (record.contract_number and record.paid_on):
        reject("Платная услуга: внесите номер договора и дату оплаты до назначения выезда")


def make_task(record):
    """after of "schedule": the field visit task for the metering specialist who scheduled it."""
    consumer = get("consumer", record.consumer)
    create("field_task", {"request": record.id, "visit_on": record.visit_on, "assignee": user["id"],
                          "address": consumer.address if consumer else None})
