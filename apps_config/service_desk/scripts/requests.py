# Service desk request logic (DOMAIN §3): the contract is found from the chosen
# module and service; services are limited by module, company and contract.


def choose_contract(record):
    """before_save: pick the organisation's active contract that covers the module and service."""
    if record.contract or not record.organization or not record.module:
        return
    try:
        candidates = find("contract", where={"organization": record.organization, "status": "active"},
                          sort=["-valid_to"])
    except ApiError:
        return  # the user may not read contracts (a client, entities/contract.yaml): the desk classifies it
    for candidate in candidates:
        contract = get("contract", candidate["id"])
        if record.module not in contract["modules"]:
            continue
        if record.service and record.service not in contract["services"]:
            continue
        record.contract = contract["id"]
        if not record.department:
            record.department = contract["department"]
        log("contract", contract["code"], "chosen for module", record.module)
        return


def contracted_services(record):
    """filter_script of service: the services of the organisation's active contracts covering the
    module; none until the organisation is chosen. Privileged: a client cannot read contracts."""
    if not record.organization:
        return []
    ids = []
    for contract in find("contract", where={"organization": record.organization, "status": "active"}, limit=200):
        if record.module and record.module not in (contract["modules"] or []):
            continue
        ids.extend(contract["services"] or [])
    return ids


def check_classification(record):
    """validate: the service belongs to the module; the contract is the organisation's, active, covers it."""
    errors = {}
    if record.service:
        service = get("service", record.service)
        if service is not None and service["module"] != record.module:
            errors["service"] = "Услуга не относится к выбранному модулю"
    if record.contract:
        contract = get("contract", record.contract)
        if contract is None:
            errors["contract"] = "Договор не найден"
        elif contract["organization"] != record.organization:
            errors["contract"] = "Договор заключён с другой организацией"
        elif contract["status"] != "active":
            errors["contract"] = "Договор не действует"
        elif record.service and record.service not in contract["services"]:
            errors["service"] = "Услуга не входит в договор"
    return errors


def escalate(record):
    """action: raise the request to critical and tell the head of its department."""
    if record.priority == "1":
        reject("Заявка уже имеет критический приоритет")
    record.priority = "1"
    if record.department:
        department = get("department", record.department)
        if department and department["head"]:
            notify(department["head"], "Эскалация заявки " + record.number, record.subject)
    log("escalated", record.number)
