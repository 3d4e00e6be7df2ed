"""The development mail loop: `make mailserver` prints each mail as a person reads it, so that a reset link
copied from its output opens the reset form; account mails come from the site's own no-reply address."""

import os
import re
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.support.servers import ROOT, free_port, stop
from tests.support.waiting import wait_for, wait_until

RESET_LINK = re.compile(r"https?://\S+/reset_password\?token=\S+")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def mailserver(tmp_path):
    """Run the real `make mailserver` on a free port, with this test's Python; yield (port, its output)."""
    port, output_path = free_port(), tmp_path / "mailserver.out"
    # -o: the virtualenv is the one running this test, never rebuilt from here.
    command = [
        "make",
        "-s",
        "-o",
        ".venv/.dev",
        "mailserver",
        f"MAILSERVER_PORT={port}",
        f"BIN={Path(sys.executable).parent}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # a terminal shows each line at once; a file would wait
    with output_path.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    try:
        wait_until(lambda: listening(port) or process.poll() is not None, what="the mail server to listen")
        assert process.poll() is None, output_path.read_text()
        yield port, lambda: output_path.read_text(errors="replace")
    finally:
        stop(process)


@pytest.fixture
def config_overrides(mailserver):
    port, _ = mailserver
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": ""}


def test_a_reset_link_copied_from_the_mail_servers_output_opens_the_reset_form(app, client, mailserver, make_user):
    _, output = mailserver
    make_user("dora", email="dora@example.com")

    client.post("/reset_password_request", data={"email": "dora@example.com"})
    assert app.extensions["mail"].flush(10)

    printed = wait_for(RESET_LINK, output, what="the reset link in the mail server's output")
    link = urlsplit(RESET_LINK.search(printed).group(0))
    page = client.get(f"{link.path}?{link.query}", follow_redirects=True).get_data(as_text=True)
    assert "invalid or has expired" not in page
    assert "Choose a new password" in page
    assert re.search(r"^From: no-reply@localhost$", printed, re.MULTILINE), printed  # SITE_URL's host
    assert re.search(r"^Subject: .*[Pp]assword", printed, re.MULTILINE), printed


@pytest.mark.parametrize(
    ("site_url", "sender"),
    [("https://microblog.example.org", "no-reply@microblog.example.org"), ("http://127.0.0.1:5000", None)],
)
def test_account_mails_come_from_the_sites_own_address_unless_one_is_set(tmp_path, site_url, sender):
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mail.db'}", "SITE_URL": site_url}
    app = create_app({**settings, "MAIL_DEFAULT_SENDER": ""})
    # An address is no host name for mail: the machine's name is the one left.
    assert app.extensions["mail"].sender == (sender or f"no-reply@{app.config['HOST_NAME']}")
    assert (
        create_app({**settings, "MAIL_DEFAULT_SENDER": "mb@example.com"}).extensions["mail"].sender == "mb@example.com"
    )


def test_a_mail_with_an_html_alternative_and_an_attachment_shows_its_text_and_names_the_file(mailserver):
    port, output = mailserver
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Größe"
    message.set_content("Plain words: https://example.org/" + "x" * 100 + "?a=b\n")
    message.add_alternative("<p>HTML words</p>", subtype="html")
    message.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="data.bin")

    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)

    printed = wait_for("[attached: data.bin, application/octet-stream]", output)
    assert "Subject: Größe" in printed and "https://example.org/" + "x" * 100 + "?a=b" in printed
    assert "HTML words" not in printed and "=3D" not in printed
