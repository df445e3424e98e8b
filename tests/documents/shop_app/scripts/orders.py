def print_invoice(record):
    """An action: print the invoice and keep it with the order."""
    done = print_document("invoice", record.id)
    log("printed " + done["filename"])
