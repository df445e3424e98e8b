def code(record):
    record.code = ("C" if record.purpose == "cards" else "L") + str(len(find("visit", {"purpose": record.purpose})) + 1)


def reserve(record):
    record.place_no = book_slot("hall", record)


def came(record):
    record.visit = create("visit", {"branch": record.branch, "purpose": record.purpose})["id"]


def drop(record):
    record.place_no = None
