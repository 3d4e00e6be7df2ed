"""`make mailserver`: the aiosmtpd handler that prints each mail it receives as a person reads it.

aiosmtpd's own Debugging handler prints a message as it travels: a long line of text in quoted-printable,
cut into lines that end in "=", every "=" written "=3D". A reset link copied from there is a broken token,
and the site calls it "invalid or has expired". This handler prints the headers a person reads, then each text
part decoded, so every link is whole on its line; an attachment is named, not printed. It is a development
tool: aiosmtpd comes with the test tools (requirements-dev.txt).

    python -m aiosmtpd -n -l localhost:8025 -c dev_mail.PrintMail
"""

import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TextIO

HEADERS = ("Date", "From", "To", "Cc", "Reply-To", "Subject")
RULE = "-" * 72


class PrintMail:
    """Accept every message and print it, readable, on standard output."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.out.write(readable(message) + "\n")
        self.out.flush()  # each mail shows at once, also when the output is a file or a pipe
        return "250 Message accepted for delivery"


def readable(message: EmailMessage) -> str:
    """Return the message as a person reads it: its headers, its text decoded, its attachments named."""
    lines = [RULE, *(f"{name}: {message[name]}" for name in HEADERS if message[name] is not None), ""]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        lines.append(body.get_content().rstrip("\n"))
    for attachment in message.iter_attachments():
        lines.append(f"[attached: {attachment.get_filename() or 'no name'}, {attachment.get_content_type()}]")
    lines.append(RULE)
    return "\n".join(lines)
