"""Flask extensions, created unbound here and bound to the app in `create_app`."""

from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for Microblog's typed models."""


db = SQLAlchemy(model_class=Base)
login = LoginManager()
login.login_view = "auth.login"
login.login_message = "Please log in to see this page."
csrf = CSRFProtect()
bootstrap = Bootstrap5()
# Keyed by the client address, which ProxyFix makes the real one behind a trusted proxy.
limiter = Limiter(get_remote_address)
