# Problems (DOMAIN §3): resolving the cause behind several requests informs their requesters.


def inform_requests(record):
    """after resolve: tell each linked request's requester, and resolve the requests still in work."""
    for request in find("request", where={"problem": record.id}, limit=500):
        if request.status in ("done", "closed", "cancelled"):
            continue
        send("problem_solved", to=["requester_email", "created_by"], record=request, entity="request",
             context={"problem": record.number, "solution": record.solution})
        if request.status == "in_work":
            transition("request", request.id, "resolve",
                       {"solution": "Устранена причина (проблема " + record.number + "): " + record.solution})
        log("informed", request.number, "of", record.number)
