# Contract rules (DOMAIN §3: contracts per department, automatic expiry control).


def valid_to_after_start(value, record):
    """validator of valid_to: a contract cannot end before it starts."""
    if record.valid_from and value < record.valid_from:
        return "Дата окончания раньше даты начала"
    return None


def refuse_early_expiry(record):
    """before the 'expire' transition: only a contract whose term is over may expire."""
    if record.valid_to and record.valid_to >= today():
        reject("Договор действует до " + record.valid_to.isoformat() + "; завершить его раньше срока нельзя")
