# Calendar plans (DOMAIN §3): a plan lives inside its contract's validity.


def as_day(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def within_contract(record):
    """validate: the plan ends after it starts, and within the validity of its contract."""
    errors = {}
    if record.valid_from and record.valid_to and record.valid_to < record.valid_from:
        errors["valid_to"] = "Дата окончания плана раньше даты начала"
    contract = get("contract", record.contract) if record.contract else None
    if contract:
        starts, ends = as_day(contract["valid_from"]), as_day(contract["valid_to"])
        if record.valid_from and as_day(record.valid_from) < starts:
            errors["valid_from"] = "План начинается раньше договора (договор действует с " + starts + ")"
        if record.valid_to and as_day(record.valid_to) > ends:
            errors["valid_to"] = "План действует дольше договора (договор действует по " + ends + ")"
    return errors or None
