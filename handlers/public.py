"""Worker-facing pages: the site's complaint form, the receipt and the status lookup."""
from flask import Blueprint

bp = Blueprint("public", __name__)
