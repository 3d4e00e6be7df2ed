"""The framework's floor: a bare Flask app answering one 3 KB page, served like Microblog."""

from flask import Flask

PARAGRAPH = "<p>" + "Microblog bare page. " * 20 + "</p>\n"
PAGE = "<!doctype html>\n<html><head><title>Bare</title></head><body>\n" + PARAGRAPH * 7 + "</body></html>\n"

app = Flask(__name__)


@app.route("/")
def page() -> str:
    return PAGE
