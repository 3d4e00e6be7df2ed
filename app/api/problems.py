"""The page that explains each kind of problem: where a problem's `type` points (the catalog is in
app/errors/problem_details.py)."""

from flask import Blueprint, abort, render_template

from app.errors.problem_details import find_problem

bp = Blueprint("problems", __name__)


@bp.route("/problems/<slug>")
def page(slug: str):
    """Explain one kind of problem: the page a problem's `type` points to."""
    problem = find_problem(slug)
    if problem is None:
        abort(404)
    explanation = code_spans(problem.explanation)
    return render_template("api/problem.html", title=problem.title, problem=problem, explanation=explanation)


def code_spans(text: str) -> list[tuple[str, bool]]:
    """Split `text` at its backticks into (part, is_code) pairs: the catalog marks code as Markdown does, the page
    sets it in <code>."""
    return [(part, index % 2 == 1) for index, part in enumerate(text.split("`")) if part]
