# Monthly billing of personal accounts (DOMAIN §4), run by the batches of batches.yaml over
# chunks of accounts. Figures are Decimals rounded half up to the kopeck.
#
# A month's line per account and service:
#   debt_start    the previous month's debt_end of that service (0 for the first month)
#   accrued       by the service's calculation: area, residents (x norm), fixed, or the meter's
#                 consumption (the norm per resident when there is no reading); up to
#                 residents x norm at the base tariff, above it at the over-norm tariff
#   benefit       accrued x the account's benefit percent
#   recalculation the month's recalculations of the service
#   paid          the month's payments, distributed in proportion to what each line owes
#                 (debt_start + accrued - benefit + recalculation, the negative ones as 0);
#                 when nothing is owed (an advance), in proportion to the month's accrual;
#                 the kopecks rounding leaves go to the line owing most
#   debt_end      debt_start + accrued - benefit + recalculation - paid
# The penalty line (пени): the previous months' debt of the services not paid by the due day
# (the 10th), times the rate (% a day) times the days from the due day to the month's end.
import datetime

MONTHS = ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
          "октябрь", "ноябрь", "декабрь"]
ZERO = Decimal("0")


def bounds(period):
    """(first day, last day) of a "YYYY-MM" period."""
    year, month = period.split("-")
    start = datetime.date(int(year), int(month), 1)
    following = (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return start, following - datetime.timedelta(days=1)


def previous(period):
    start, _ = bounds(period)
    return (start - datetime.timedelta(days=1)).isoformat()[:7]


def valid_on(rows, day):
    """The row in force on ``day``: the latest valid_from not after it, not ended before it."""
    best = None
    for row in rows:
        if row.valid_from > day or (row.get("valid_to") and row.valid_to < day):
            continue
        if best is None or row.valid_from > best.valid_from:
            best = row
    return best


def dec(value):
    return ZERO if value is None else Decimal(value)


# ---------------------------------------------------------------------- accrual
def accrue(accounts, params, loaded):
    period = params["period"]
    start, end = bounds(period)
    services = {s.id: s for s in loaded["services"]}
    order = sorted(services, key=lambda i: (services[i].get("position") or 0, i))
    rate = valid_on(loaded["rates"], start)
    if rate is None:
        reject("Нет ставки пени на " + start.isoformat())
    candidates = {}
    for t in loaded["tariffs"]:
        candidates.setdefault((t.service, t.kind), []).append(t)
    tariffs = {}  # (service, tariff kind) -> the tariff in force on the month's first day
    for key, rows in candidates.items():
        tariffs[key] = valid_on(rows, start)
    out = []
    for account in accounts:
        out.extend(account_lines(account, period, start, end, services, order, tariffs, rate, loaded))
    return out


def account_lines(account, period, start, end, services, order, tariffs, rate, loaded):
    before = previous(period)
    opening = {}
    for line in loaded["lines"].get(account.id, []):
        if line.period == before:
            opening[line.service if line.kind == "service" else "penalty"] = dec(line.debt_end)
    connected = set()
    for row in account.services:
        if row.state == "connected" and row.connected_on <= end:
            connected.add(row.service)
    readings = [r for r in loaded["readings"].get(account.id, []) if r.period == period and r.kind == "monthly"]
    recalcs = {}
    for r in loaded["recalculations"].get(account.id, []):
        if r.period == period:
            recalcs[r.service] = recalcs.get(r.service, ZERO) + dec(r.amount)
    percent = dec(account.get("benefit_percent"))
    lines = []
    for sid in order:
        debt = opening.get(sid, ZERO)
        if sid not in connected and debt == ZERO and sid not in recalcs:
            continue
        line = {"account": account.id, "service": sid, "kind": "service", "period": period,
                "debt_start": debt, "accrued": ZERO, "benefit": ZERO, "recalculation": recalcs.get(sid, ZERO)}
        if sid in connected:
            quantity, over, tariff, amount = charge(account, services[sid], tariffs, readings, start)
            accrued = money(amount)
            line.update({"quantity": quantity, "over_norm": over, "tariff": tariff, "accrued": accrued,
                         "benefit": money(accrued * percent / 100)})
        lines.append(line)
    due = datetime.date(start.year, start.month, rate.due_day)
    paid_by_due = ZERO
    paid = ZERO
    for p in loaded["payments"].get(account.id, []):
        if start <= p.paid_on <= end:
            paid += dec(p.amount)
            if p.paid_on <= due:
                paid_by_due += dec(p.amount)
    overdue = sum([opening.get(sid, ZERO) for sid in order], ZERO) - paid_by_due
    penalty = ZERO
    if overdue > ZERO:
        penalty = money(overdue * dec(rate.rate) / 100 * (end - due).days)
    if penalty != ZERO or opening.get("penalty", ZERO) != ZERO:
        lines.append({"account": account.id, "kind": "penalty", "period": period, "quantity": (end - due).days,
                      "tariff": rate.rate, "debt_start": opening.get("penalty", ZERO), "accrued": penalty,
                      "benefit": ZERO, "recalculation": ZERO})
    distribute(lines, paid)
    for line in lines:
        line["debt_end"] = owed(line) - line["paid"]
    return lines


def charge(account, service, tariffs, readings, start):
    """(quantity, over the norm, base tariff, amount) of one service for one account."""
    tariff = tariffs.get((service.id, account.tariff_kind))
    if tariff is None:
        reject("Нет тарифа «" + service.name + "» (" + account.tariff_kind + ") на " + start.isoformat() +
               " для лицевого счёта " + account.code)
    base = dec(tariff.base)
    norm = dec(service.get("norm"))
    if service.calc == "area":
        return dec(account.area), ZERO, base, dec(account.area) * base
    if service.calc == "fixed":
        return Decimal(1), ZERO, base, base
    if service.calc == "residents":
        quantity = account.residents * (norm if norm else Decimal(1))
        return quantity, ZERO, base, quantity * base
    measured = [r for r in readings if r.meter_kind == service.meter_kind]
    limit = account.residents * norm
    quantity = sum([dec(r.consumption) for r in measured], ZERO) if measured else limit
    over = ZERO
    if norm and tariff.get("over_norm") is not None and quantity > limit:
        over = quantity - limit
    return quantity, over, base, (quantity - over) * base + over * dec(tariff.get("over_norm"))


def owed(line):
    return line["debt_start"] + line["accrued"] - line["benefit"] + line["recalculation"]


def distribute(lines, paid):
    """Share ``paid`` among the lines in proportion to what each owes (see the top)."""
    for line in lines:
        line["paid"] = ZERO
    if not lines or paid == ZERO:
        return
    weights = [max(owed(line), ZERO) for line in lines]
    if sum(weights, ZERO) == ZERO:
        weights = [max(line["accrued"], ZERO) for line in lines]
    if sum(weights, ZERO) == ZERO:
        weights = [Decimal(1)] + [ZERO] * (len(lines) - 1)
    total = sum(weights, ZERO)
    for line, weight in zip(lines, weights):
        line["paid"] = money(paid * weight / total)
    rest = paid - sum([line["paid"] for line in lines], ZERO)
    biggest = weights.index(max(weights))
    lines[biggest]["paid"] = lines[biggest]["paid"] + rest


# ---------------------------------------------------------------------- receipts
def make_receipts(accounts, params, loaded):
    period = params["period"]
    start, end = bounds(period)
    buildings = {b.id: b for b in loaded["buildings"]}
    rate = valid_on(loaded["rates"], start)
    following = end + datetime.timedelta(days=1)
    due = datetime.date(following.year, following.month, rate.due_day if rate else 10)
    out = []
    for account in accounts:
        lines = [line for line in loaded["lines"].get(account.id, []) if line.period == period]
        if not lines:
            continue
        building = buildings[account.building]
        payments = [p for p in loaded["payments"].get(account.id, []) if p.paid_on <= end]
        last = max([p.paid_on for p in payments]) if payments else None
        services = [line for line in lines if line.kind == "service"]
        address = building.address + (", кв. " + account.apartment if account.get("apartment") else "")
        out.append({
            "account": account.id, "building": building.id, "payee": building.payee, "period": period,
            "period_title": MONTHS[start.month - 1] + " " + str(start.year), "account_code": account.code,
            "payer": account.owner, "address": address, "area": account.area, "residents": account.residents,
            "debt_start": sum([dec(line.debt_start) for line in lines], ZERO),
            "paid": sum([dec(line.paid) for line in lines], ZERO), "last_payment_on": last,
            "accrued": sum([dec(line.accrued) for line in services], ZERO),
            "benefits": sum([dec(line.benefit) for line in services], ZERO),
            "recalculation": sum([dec(line.recalculation) for line in services], ZERO),
            "penalty": sum([dec(line.accrued) for line in lines if line.kind == "penalty"], ZERO),
            "total_due": sum([dec(line.debt_end) for line in lines], ZERO), "due_date": due})
    return out
