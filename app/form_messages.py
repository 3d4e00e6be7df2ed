"""WTForms' own messages in plain words, given to every form through its Meta translations (app/forms.py).

WTForms asks `gettext` and `ngettext` for each message it shows ("Field must be between 8 and 128
characters long."); these answer with a sentence that says what to do instead ("Use between 8 and 128
characters."), and with WTForms' text for any message not listed. A validator given its own message
keeps it.
"""

PLAIN = {
    "This field is required.": "Please fill this in.",
    "Field must be between %(min)d and %(max)d characters long.": "Use between %(min)d and %(max)d characters.",
    "Field must be at least %(min)d character long.": "Use at least %(min)d character.",
    "Field must be at least %(min)d characters long.": "Use at least %(min)d characters.",
    "Field cannot be longer than %(max)d character.": "Use %(max)d character or fewer.",
    "Field cannot be longer than %(max)d characters.": "Use %(max)d characters or fewer (this has %(length)d).",
    "Field must be exactly %(max)d character long.": "Use exactly %(max)d character.",
    "Field must be exactly %(max)d characters long.": "Use exactly %(max)d characters.",
    "Invalid email address.": "Enter an email address like name@example.com.",
    "Field must be equal to %(other_name)s.": "This must be the same as %(other_name)s.",
    "Invalid input.": "This is not in a form the site can take.",
    "Not a valid choice.": "Choose one of the options.",
}


class PlainMessages:
    """The translations object WTForms expects: `gettext` and `ngettext`."""

    def gettext(self, string: str) -> str:
        return PLAIN.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


plain_messages = PlainMessages()
