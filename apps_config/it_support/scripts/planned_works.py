# Planned works notices (DOMAIN §2): at least 2 working days ahead.


def check_period(record):
    """validate: the works end after they start."""
    if record.start_at and record.end_at and record.end_at <= record.start_at:
        return {"end_at": "Окончание работ должно быть позже начала"}
    return None


def notice_in_time(record):
    """before 'announce': the notice goes out at least 2 working days before the works start."""
    earliest = business_add(now(), "2 business days")
    if record.start_at < earliest:
        reject("Уведомление о плановых работах рассылается не позднее чем за 2 рабочих дня: "
               "начало должно быть не раньше " + earliest.strftime("%d.%m.%Y %H:%M") + " (UTC)")


def remind_responsible():
    """schedule: the responsible person hears about announced works starting within a working day."""
    soon = business_add(now(), "1 business day")
    count = 0
    for work in find("planned_work", {"status": "announced", "start_at__lte": soon.isoformat(),
                                      "start_at__gte": now().isoformat()}):
        notify(work["responsible"], "Плановые работы: " + work["name"], "Начало: " + str(work["start_at"]))
        count += 1
    return count
