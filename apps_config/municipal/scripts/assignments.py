# Assignment control (DOMAIN §5): the author, the co-executors' parts and escalation.


def defaults(record):
    """default hook: whoever drafts an assignment is its author."""
    if not record.author and user["id"]:
        record.author = user["id"]


def make_parts(record):
    """issue action: a part of their own for every co-executor, with the assignment's deadline."""
    for row in record.co_executors or []:
        create("assignment_part", {"assignment": record.id, "executor": row.executor, "task": row.task,
                                   "deadline": record.deadline})


def cancel_parts(record):
    """cancel action: the open parts of a cancelled assignment are cancelled with it."""
    for part in find("assignment_part", where={"assignment": record.id, "status": "in_work"}, limit=200):
        transition("assignment_part", part["id"], "cancel")


def escalate_overdue():
    """Daily: an assignment past its deadline is escalated once to its author and the controllers."""
    late = find("assignment", where={"status__in": ["in_work", "rework"], "deadline__lt": "today",
                                     "escalated": False}, sort=["deadline"], limit=200)
    for item in late:
        send("assignment_overdue", to=["author", "role:controller"], cc=["executor"], record=item,
             entity="assignment")
        update("assignment", item["id"], {"escalated": True})
    return len(late)
