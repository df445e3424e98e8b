# Appeals (DOMAIN §1): the topic's deadline and integration, the suggested topic, the answer
# draft from the topic's template and the knowledge base, and the answer through the channel
# the consumer chose.

import datetime


def defaults(record):
    """default of an appeal: received now; the consumer's contacts when a consumer is named."""
    if not record.received_at:
        record.received_at = now()
    fill_from_consumer(record)


def fill_from_consumer(record):
    if not record.consumer:
        return
    consumer = get("consumer", record.consumer)
    if consumer is None:
        return
    if not record.applicant:
        record.applicant = consumer.name
    if not record.email and consumer.email:
        record.email = consumer.email
    if not record.address and consumer.address:
        record.address = consumer.address


def classify_and_schedule(record):
    """before_save of an appeal: the suggested topic (the app's classifier, once, from the text),
    then the regulated deadline of the topic counted from the time it was received, in calendar
    or working days, and the integrated system the topic calls."""
    if not record.received_at:
        record.received_at = now()
    if not record.suggested_topic and record.text:
        code = suggest("appeal_topic", record.text)
        if code:
            found = find("topic", {"code": code}, limit=1)
            if found:
                record.suggested_topic = found[0].id
    if not record.topic:
        record.due_on = None
        record.integration = None
        return
    if old is not None and old.get("topic") == record.topic and record.due_on:
        return
    topic = get("topic", record.topic)
    record.integration = topic.get("integration")
    local = now().tzinfo
    if topic.deadline_kind == "working":
        due = business_add(record.received_at, str(topic.deadline_days) + " business days")
        record.due_on = due.astimezone(local).date()
    else:
        record.due_on = record.received_at.astimezone(local).date() + datetime.timedelta(days=topic.deadline_days)


def draft_answer(record):
    """The "draft the answer" button: the topic's template filled with the consumer's data and
    the specialist's findings, and the knowledge base's articles on the topic below it."""
    if not record.topic:
        reject("Укажите тематику обращения: черновик собирается по её шаблону")
    topic = get("topic", record.topic)
    consumer = get("consumer", record.consumer) if record.consumer else None
    values = {
        "{name}": record.applicant or (consumer.name if consumer else "потребитель"),
        "{address}": record.address or (consumer.address if consumer else "") or "",
        "{account}": (consumer.account if consumer else "") or "",
        "{findings}": record.findings or "",
    }
    text = topic.answer_template or "{findings}"
    for key in values:
        text = text.replace(key, values[key])
    articles = find("article", {"topic": record.topic}, sort=["title"], limit=3)
    if articles:
        text = text + "\n\n" + "\n\n".join([a.body for a in articles])
    record.draft_answer = text.strip()


def verify(record):
    """before of "answer": the specialist verifies the draft; the answer is the draft unless
    they wrote another, and an empty one is not sent."""
    if not record.answer:
        record.answer = record.draft_answer
    if not record.answer:
        reject("Ответ пуст: подготовьте черновик или напишите ответ")
    if record.reply_channel == "email" and not record.email:
        reject("Потребитель выбрал ответ по электронной почте, но адрес не указан")
    record.verified_by = user["id"]


def send_answer(record):
    """after of "answer": the answer goes back through the channel the consumer chose; a letter
    by post is printed by the office, so nothing is sent electronically."""
    if record.reply_channel == "email":
        send("answer_email", to=["email"], record=record)
    elif record.reply_channel == "inapp":
        send("answer_inapp", to=["created_by"], record=record)
    else:
        log("answer " + record.number + " goes by post")
