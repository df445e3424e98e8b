# The electronic queue (DOMAIN §1): ticket numbers, "call next", waiting time.

LETTERS = {"consult": "К", "connection": "Т", "metering": "У", "documents": "Д"}


def ticket_number(record):
    """default of a ticket: the service's letter and the office's count of that service's tickets
    today (К-001, К-002, ...), so the board reads the same numbers the terminal printed."""
    if not record.office:
        return
    service = record.service or "consult"
    taken = find("queue_ticket", {"office": record.office, "service": service, "created_at__gte": "today"},
                 limit=1000)
    record.ticket = LETTERS.get(service, "К") + "-" + str(len(taken) + 1).zfill(3)


def call_next(record):
    """The window's "call next" button: a booked ticket whose slot has come goes first, then
    the longest waiting one; it is called to this window."""
    waiting = find("queue_ticket", {"office": record.office, "status": "waiting"}, sort=["created_at", "id"],
                   limit=200)
    if not waiting:
        reject("Очередь пуста")
    due = [t for t in waiting if t.slot_at is not None and t.slot_at <= now()]
    walk_in = [t for t in waiting if t.slot_at is None]
    chosen = (due or walk_in or waiting)[0]
    transition("queue_ticket", chosen.id, "call")
    start = chosen.slot_at if chosen.slot_at is not None and chosen.slot_at > chosen.created_at else chosen.created_at
    update("queue_ticket", chosen.id, {"window": record.id, "called_at": now(),
                                       "wait_minutes": int((now() - start).total_seconds() // 60)})
    record.current_ticket = chosen.id


def served(record):
    """before of "served": how long the window served the visitor."""
    if record.called_at is not None:
        record.serve_minutes = int((now() - record.called_at).total_seconds() // 60)


# ---------------------------------------------------------------------- appointments
def book(record):
    """before_save of an appointment: the seat of its slot (the queue plugin checks the office's
    reception hours and refuses a slot that is taken or not offered)."""
    record.seat = book_slot("office_queue", record)


def arrive(record):
    """before of "arrive": the visitor came; the ticket is taken for the booked slot, so the
    window calls it first once its time has come."""
    ticket = create("queue_ticket", {"office": record.office, "service": record.service, "consumer": record.consumer,
                                     "slot_at": record.slot_at, "source": record.channel, "appointment": record.id})
    record.ticket = ticket["id"]


def release(record):
    """before of "cancel": the slot's seat is free again."""
    record.seat = None
