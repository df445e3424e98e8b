# Meter readings (DOMAIN §1): plausibility checks before a reading is accepted.

from decimal import Decimal


def check_reading(record):
    """before_save of a reading: the meter (by link or serial), then the checks. A reading lower
    than the last one (other than a roll-over at the end of the scale), or one whose consumption
    the meter's permitted load could not have drawn in the days since the last reading (24 hours
    a day at full load), is refused as implausible, saying why."""
    if not record.meter and record.meter_serial:
        found = find("meter", {"serial": record.meter_serial}, limit=1)
        if not found:
            reject("Прибор учёта с заводским номером " + record.meter_serial + " не найден")
        record.meter = found[0].id
    if not record.meter:
        reject("Укажите прибор учёта")
    meter = get("meter", record.meter)
    record.meter_serial = meter.serial
    record.consumer = meter.consumer
    if record.taken_on > today():
        reject("Дата снятия показания " + str(record.taken_on) + " ещё не наступила")
    mine = record.get("id")
    earlier = [r for r in find("reading", {"meter": record.meter, "taken_on__lte": record.taken_on},
                               sort=["-taken_on", "-id"], limit=3) if r.id != mine]
    if not earlier:
        record.consumption = Decimal("0")
        return
    last = earlier[0]
    consumption = record.value - last.value
    if consumption < 0:
        top = Decimal(10) ** (meter.digits or 6)
        if record.value >= top / 10 or last.value < top * 9 / 10:
            reject("Показание неправдоподобно: " + str(record.value) + " кВт·ч меньше предыдущего " +
                   str(last.value) + " кВт·ч от " + str(last.taken_on))
        consumption = top - last.value + record.value
    days = max((record.taken_on - last.taken_on).days, 1)
    ceiling = (meter.max_kw or Decimal("15")) * 24 * days
    if consumption > ceiling:
        reject("Показание неправдоподобно: расход " + str(consumption) + " кВт·ч за " + str(days) +
               " дн. больше, чем прибор с разрешённой мощностью " + str(meter.max_kw) + " кВт мог учесть (" +
               str(ceiling) + " кВт·ч). Проверьте показание или вызовите контролёра")
    record.consumption = consumption


def remember_last(record):
    """after_save of a reading: the meter shows its latest reading."""
    meter = get("meter", record.meter)
    if meter.last_taken_on is None or record.taken_on >= meter.last_taken_on:
        update("meter", record.meter, {"last_value": record.value, "last_taken_on": record.taken_on})
