# Meter readings (DOMAIN §4): plausibility checks when a reading is saved.


def meter_place(record):
    """validate of a meter: an individual meter belongs to an account, a collective one to a building."""
    if record.scope == "individual" and not record.account:
        return {"account": "Индивидуальный прибор учёта привязывается к лицевому счёту"}
    if record.scope == "collective" and not record.building:
        return {"building": "Общедомовой прибор учёта привязывается к дому"}
    return None


def check_reading(record):
    """before_save of a reading: its account and kind come from the meter; the consumption is
    the difference from the last reading, over zero when a cyclic counter rolled over; a
    reading lower than the last one is refused otherwise; a consumption above jump_factor
    times the meter's average is flagged for review."""
    meter = get("meter", record.meter)
    if meter is None:
        reject("Прибор учёта не найден")
    kind = get("meter_kind", meter.kind)
    record.account = meter.get("account")
    record.meter_kind = meter.kind
    mine = record.get("id")
    same = [r for r in find("reading", {"meter": record.meter, "period": record.period}, limit=5) if r.id != mine]
    if same:
        reject("Показание за " + record.period + " по прибору " + meter.serial + " уже внесено")
    earlier = [r for r in find("reading", {"meter": record.meter, "period__lt": record.period},
                               sort=["-period"], limit=13) if r.id != mine]
    record.rollover = False
    record.flagged = False
    record.review_note = None
    if record.kind == "initial" or not earlier:
        record.consumption = Decimal("0")
        return
    last = earlier[0]
    consumption = record.value - last.value
    if consumption < 0:
        top = Decimal(10) ** kind.digits
        if not kind.cyclic or record.value >= top / 2 or last.value < top / 2:
            reject("Показание " + str(record.value) + " меньше предыдущего (" + str(last.value) + " за " +
                   last.period + "); переход через ноль возможен только у циклического счётчика в конце шкалы")
        consumption = top - last.value + record.value
        record.rollover = True
    record.consumption = consumption
    history = [r.consumption for r in earlier if r.kind == "monthly" and r.consumption is not None][:12]
    if history:
        average = sum(history, Decimal("0")) / len(history)
        factor = kind.get("jump_factor") or Decimal("3")
        if average > 0 and consumption > average * factor:
            record.flagged = True
            record.review_note = ("Расход " + str(consumption) + " больше среднего (" + str(money(average, 3)) +
                                  ") в " + str(factor) + " раза и более")
