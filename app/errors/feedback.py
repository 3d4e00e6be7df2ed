"""Feedback from the 500 page: what the user was doing, kept with the request id on its fault in the alert state.

The form sits under the page's reference: plain HTML (no JavaScript), a CSRF token, and a signed
reference that names the request and its fault, so that a form cannot be aimed at another fault.
Neither the form nor the view touches the application database (the alert state lives outside
it), so feedback works when the database is the fault.
"""

from flask import Blueprint, Flask, abort, current_app, render_template
from itsdangerous import BadData, URLSafeTimedSerializer

from app.errors.handlers import leave_user_unloaded
from app.extensions import limiter
from app.forms import FeedbackForm
from app.observability.faults import add_feedback, fault_store, request_fault
from app.observability.request_id import current_request_id

bp = Blueprint("feedback", __name__)
bp.before_request(leave_user_unloaded)  # its pages never load the user: the database may be what failed
REFERENCE_MAX_AGE = 86400  # a 500 page left open for a day can still send its feedback


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"feedback_form": feedback_form})


def signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="fault-feedback")


def feedback_form() -> FeedbackForm | None:
    """Return the 500 page's form, or None when no fault of this request is kept in the alert state."""
    fingerprint = request_fault()
    if fingerprint is None or "alerts" not in current_app.extensions:
        return None
    form = FeedbackForm(formdata=None)  # never filled from the failed request's own form
    form.reference.data = signer().dumps([current_request_id(), fingerprint])
    return form


def feedback_limit() -> str:
    """Return the limit on feedback submissions per client address (FEEDBACK_RATE_LIMIT)."""
    return current_app.config["FEEDBACK_RATE_LIMIT"]


@bp.route("/feedback", methods=["POST"])
@limiter.limit(feedback_limit)
def send():
    """Keep the user's words on the fault of the request the page was about, then thank them.

    The field is optional, as its hint says: sent empty, it keeps nothing and thanks all the same, since the
    team has the error already. A text refused comes back with the reference and a summary, as any form does.
    """
    form = FeedbackForm()
    request_id, fingerprint = signed_reference(form.reference.data)
    if not form.validate_on_submit():
        return render_template("errors/feedback.html", title="Your feedback", form=form, request_id=request_id,
                               safe_mode=True), 400  # fmt: skip
    written = form.text.data.strip() != ""
    if written:
        keep_feedback(fingerprint, request_id, form.text.data)
    return render_template("errors/feedback_thanks.html", title="Thank you", written=written, request_id=request_id,
                           safe_mode=True)  # fmt: skip


def signed_reference(reference: str | None) -> tuple[str, str]:
    """Return the request id and fault the form's signed reference names; refuse a forged or stale one."""
    try:
        request_id, fingerprint = signer().loads(reference or "", max_age=REFERENCE_MAX_AGE)
    except BadData:
        abort(400)
    return request_id, fingerprint


def keep_feedback(fingerprint: str, request_id: str, text: str) -> None:
    try:
        add_feedback(fault_store(current_app), fingerprint, request_id, text, current_app.config)
    except Exception:
        current_app.logger.warning("Feedback on request %s could not be stored", request_id, exc_info=True)
        abort(503)
