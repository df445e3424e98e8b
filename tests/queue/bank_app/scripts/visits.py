def code(record):
    record.code = ("C" if record.purpose == "cards" else "L") + str(len(find("visit", {"purpose": record.purpose})) + 1)
