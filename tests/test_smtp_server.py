"""The tests' own SMTP server (tests/support/smtp.py) leaves nothing for the garbage collector to warn about.

A socket it left open was reported, as an "unclosed transport" ResourceWarning, in whichever later test the
collector happened to run: an error in a test that has nothing to do with mail (seen once in CI).
"""

import gc
import smtplib
import ssl
import sys

from tests.support.smtp import self_signed_certificate, server_tls_context, smtp_server


def test_a_starttls_session_left_open_is_closed_with_the_server(tmp_path, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    cert, key = self_signed_certificate(tmp_path)
    with smtp_server(tls_context=server_tls_context(cert, key)) as (_inbox, port):
        client = smtplib.SMTP("127.0.0.1", port, timeout=5)
        client.starttls(context=ssl.create_default_context(cafile=cert))
        client.ehlo()  # and never QUIT

    client.close()
    gc.collect()

    assert [str(report.exc_value) for report in unraisable] == []
