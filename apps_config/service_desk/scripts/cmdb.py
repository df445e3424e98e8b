# CMDB (DOMAIN §3): relations between configuration items.


def check_relation(record):
    """validate: an item is not related to itself, and a relation is not declared twice."""
    if record.source and record.source == record.target:
        return {"target": "Единица не может быть связана сама с собой"}
    if record.source and record.target and record.kind:
        same = find("ci_relation", where={"source": record.source, "target": record.target, "kind": record.kind})
        if [r for r in same if r.id != record.get("id")]:
            return {"target": "Такая связь уже есть"}
    return None
