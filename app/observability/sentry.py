"""Sentry, when SENTRY_DSN is set: the official SDK's Flask integration, with Microblog's scrubbing."""

from flask import Flask

from app.observability.scrub import (
    cookie_values,
    known_secrets,
    mask_cookies,
    request_secrets,
    scrub_mapping,
    scrub_text,
    scrub_url,
)
from app.version import __version__


def init_sentry(app: Flask) -> None:
    if not app.config["SENTRY_DSN"]:
        return
    # Imported here, not at the top: the SDK costs every worker about 9 MB, for nothing when Sentry is off.
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    secrets = known_secrets(app.config)
    sentry_sdk.init(
        dsn=app.config["SENTRY_DSN"],
        integrations=[FlaskIntegration()],
        release=f"microblog@{__version__}",
        environment=app.config["SENTRY_ENVIRONMENT"],
        data_collection={"user_info": False},  # no default PII (send_default_pii=False, in the SDK's new terms)
        before_send=lambda event, hint: scrub_event(event, secrets + request_secrets()),  # what the user typed, too
        before_breadcrumb=lambda crumb, hint: scrub_breadcrumb(crumb, secrets + cookie_values()),
    )


def scrub_event(event: dict, secrets: list[str]) -> dict:
    """Mask what Microblog masks in its own mails: sensitive fields, headers, every cookie, URL credentials, secrets.

    The SDK sends no cookies while it sends no personal data (the `user_info` switch); should that change,
    they are masked here as everywhere.
    """
    request = event.get("request")
    if request:
        if request.get("url"):
            request["url"] = scrub_text(scrub_url(request["url"]), secrets)
        for part in ("data", "headers"):
            if isinstance(request.get(part), dict):
                request[part] = scrub_mapping(request[part], secrets)
        if isinstance(request.get("cookies"), dict):
            request["cookies"] = dict(mask_cookies(request["cookies"].items()))
        if isinstance(request.get("query_string"), str):
            request["query_string"] = scrub_url("?" + request["query_string"]).lstrip("?")
    for exception in event.get("exception", {}).get("values", []):
        if exception.get("value"):
            exception["value"] = scrub_text(exception["value"], secrets)
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            if isinstance(frame.get("vars"), dict):
                frame["vars"] = scrub_mapping(frame["vars"], secrets)
    if isinstance(event.get("logentry"), dict) and event["logentry"].get("message"):
        event["logentry"]["message"] = scrub_text(event["logentry"]["message"], secrets)
    if isinstance(event.get("extra"), dict):
        event["extra"] = scrub_mapping(event["extra"], secrets)
    return event


def scrub_breadcrumb(crumb: dict, secrets: list[str]) -> dict:
    """Mask a breadcrumb's text, and drop the values of SQL statements (emails, password hashes)."""
    if crumb.get("message"):
        crumb["message"] = scrub_text(crumb["message"], secrets)
    if isinstance(crumb.get("data"), dict):
        crumb["data"].pop("db.params", None)  # the SDK's SQLAlchemy integration records each statement's values
        crumb["data"] = scrub_mapping(crumb["data"])
    return crumb
