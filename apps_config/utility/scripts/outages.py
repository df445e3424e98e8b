# Outages (DOMAIN §1): the dispatch codes resolved to grid objects, the reports an emergency
# outage obliges, and the notices to the consumers of the affected objects (a batch).

import datetime

# Who an emergency outage is reported to at once, by e-mail.
AGENCIES = [("ЕДДС муниципального образования", "edds@enskadm.example"),
            ("ГУ МЧС России по области", "cuks@mchs-region.example")]


def resolve_objects(record):
    """before_save of an outage: the dispatch system sends codes ("ТП-101, Ф-12"); they become
    links to the grid objects, and an unknown code refuses the outage, naming it."""
    if not record.object_codes:
        return
    codes = [c.strip() for c in record.object_codes.replace(";", ",").split(",") if c.strip()]
    found = find("grid_object", {"code__in": codes}, limit=len(codes) + 1)
    known = {o.code: o.id for o in found}
    unknown = [c for c in codes if c not in known]
    if unknown:
        reject("Неизвестные объекты сети: " + ", ".join(unknown))
    record.grid_objects = [known[c] for c in codes]


def file_reports(record):
    """after_save of an outage: an emergency one files the incident report (within 24 hours)
    and informs the agencies once."""
    if record.kind != "emergency" or find("outage_report", {"outage": record.id}, limit=1):
        return
    due = record.starts_at + datetime.timedelta(hours=24)
    create("outage_report", {"outage": record.id, "kind": "incident_report", "agency": "Ростехнадзор",
                             "channel": "edms", "due_at": due, "text": "Технологическое нарушение " + record.number})
    for agency, address in AGENCIES:
        create("outage_report", {"outage": record.id, "kind": "agency_info", "agency": agency,
                                 "channel": "email", "address": address,
                                 "due_at": record.starts_at + datetime.timedelta(hours=1),
                                 "text": "Аварийное отключение " + record.number + ": " + (record.object_codes or "")})


def notices(records, params, loaded):
    """The batch `outage_notices` over grid objects: one notice per consumer of each object the
    outage affects, through the channel the consumer chose (none for "do not notify" or a
    channel without an address)."""
    outage = get("outage", params["outage"])
    if outage is None:
        reject("Отключение " + str(params["outage"]) + " не найдено")
    affected = set(outage.grid_objects)
    when = outage.starts_at.astimezone(now().tzinfo).strftime("%d.%m.%Y %H:%M")
    kind = "Плановое" if outage.kind == "planned" else "Аварийное"
    out = []
    for obj in records:
        if obj.id not in affected:
            continue
        text = kind + " отключение электроэнергии с " + when + " (" + obj.code + "). АО «Горэлектросеть»"
        for consumer in loaded.consumers.get(obj.id, []):
            channel = consumer.notify_channel
            if channel == "email":
                address = consumer.email
            elif channel in ("sms", "voice", "push"):
                address = consumer.phone
            else:
                address = None
            if not address:
                continue
            out.append({"outage": outage.id, "consumer": consumer.id, "grid_object": obj.id,
                        "channel": channel, "address": address, "text": text})
    return out


def call_reached(record):
    """The call list: the operator reached the consumer and read the notice out."""
    if record.delivery != "manual":
        reject("Оповещение " + record.number + " не в списке обзвона")
    record.delivery = "sent"
    record.delivered_at = now()
    record.attempts = (record.attempts or 0) + 1


def call_not_reached(record):
    """The call list: nobody answered; the notice stays undelivered with the reason."""
    if record.delivery != "manual":
        reject("Оповещение " + record.number + " не в списке обзвона")
    record.delivery = "failed"
    record.delivery_error = "Не дозвонились"
    record.attempts = (record.attempts or 0) + 1
