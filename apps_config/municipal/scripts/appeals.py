# Appeals (DOMAIN §5): an appeal is registered at the moment it arrives.


def defaults(record):
    """default hook: the time of arrival, unless the clerk enters an earlier one (a letter)."""
    if not record.received_at:
        record.received_at = now()
