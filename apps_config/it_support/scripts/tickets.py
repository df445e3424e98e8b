# Ticket rules of the support regulation (DOMAIN §2).


def defaults(record):
    """default: the person who registers a ticket is its requester unless someone else is named."""
    if not record.requester and user["id"]:
        record.requester = user["id"]


def check_contact(record):
    """validate: a ticket needs a way to reach the user, a phone or an e-mail."""
    if not record.phone and not record.email:
        return {"phone": "Укажите телефон или эл. почту", "email": "Укажите телефон или эл. почту"}
    return None
