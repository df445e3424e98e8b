# Protection-zone approvals (DOMAIN §1): the cost of an approval.

from decimal import Decimal

# Roubles: the base price per kind of works and the price per metre of line in the zone, by
# voltage class; an urgent approval costs half as much again; persons pay a reduced base.
BASE = {"capital": Decimal("12000"), "non_capital": Decimal("4500")}
PER_METRE = [(Decimal("1"), Decimal("15")), (Decimal("20"), Decimal("40")), (Decimal("110"), Decimal("90"))]


def per_metre(voltage):
    for ceiling, price in PER_METRE:
        if voltage <= ceiling:
            return price
    return Decimal("150")


def compute_cost(record):
    """before_save of an approval: cost = base by kind of works (halved for a person) + metres in
    the zone x price by voltage class, x 1.5 when urgent; emergency works cost nothing."""
    if record.reason == "emergency":
        record.cost = Decimal("0")
        record.cost_note = "Аварийные работы согласуются без оплаты"
        return
    base = BASE[record.works_kind]
    if record.applicant_category == "person":
        base = base / 2
    rate = per_metre(record.voltage_kv)
    cost = base + record.line_length_m * rate
    note = str(money(base)) + " + " + str(record.line_length_m) + " м × " + str(rate) + " руб."
    if record.urgent:
        cost = cost * Decimal("1.5")
        note = "(" + note + ") × 1,5 за срочность"
    record.cost = money(cost)
    record.cost_note = note
