def contracted_services(record):
    """The services of the chosen organisation's contracts (none until one is chosen)."""
    if not record.organization:
        return []
    ids = []
    for contract in find("contract", {"organization": record.organization}, limit=200):
        for service in contract.services or []:
            ids.append(service)
    return ids


def department_members(record):
    """The members of the department's team group; anyone while no department is chosen."""
    if not record.department:
        return None
    department = get("department", record.department)
    if not department or not department.team:
        return []
    return [u["id"] for u in users_of_group(department.team)]
