# Requests for change (DOMAIN §3): the planned window is a real interval.


def check_window(record):
    """validate: the window ends after it starts."""
    if record.planned_start and record.planned_end and record.planned_end <= record.planned_start:
        return {"planned_end": "Окно работ заканчивается раньше, чем начинается"}
    return None
