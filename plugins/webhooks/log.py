"""The delivery log administrators read: calls received and webhooks sent."""
from __future__ import annotations

from flask import Blueprint, abort

from runtime.plugin_api import current_actor, current_platform, login_required, render_page

from .gateways import GATEWAYS
from .inbound import CHANNEL as IN
from .outbound import CHANNEL as OUT

bp = Blueprint("webhooks_log", __name__, url_prefix="/hooks", template_folder="templates")


@bp.get("/log")
@login_required
def delivery_log():
    actor = current_actor()
    if not actor.is_admin:
        abort(403)
    platform = current_platform()
    messages = sorted((r for name in GATEWAYS for r in platform.outbox(name, 200)), key=lambda r: -r["id"])[:200]
    return render_page("webhooks/log.html", received=platform.delivery_log(IN, 200), sent=platform.outbox(OUT, 200),
                       messages=messages)
