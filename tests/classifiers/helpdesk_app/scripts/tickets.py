def guess(record):
    if not record.queue:
        record.queue = suggest("queue", record.body)
