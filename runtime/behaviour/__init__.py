"""What happens around a change: workflow and transitions, routing, SLA over business
calendars, aggregation, timers, the scheduler and jobs, notifications and script hooks.
:mod:`.hub` is the one place the record service and the workflow call into."""
