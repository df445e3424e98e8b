def check_report(record):
    """transition contractor_done: a report saying nothing is refused."""
    if record.contractor_report and record.contractor_report.strip() == "-":
        reject("Опишите выполненную работу")


def remind(record):
    """portal action: the contractor asks the manager to look at the job (counted)."""
    if record.status == "done":
        reject("Работа уже выполнена")
    record.reminders = (record.reminders or 0) + 1
    return "Менеджер получил напоминание"
