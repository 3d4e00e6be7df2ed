"""The benchmark's table and the issue's targets, each marked met or NOT met."""

import argparse
import time

PAGES = ("home", "explore", "profile", "profile2")
MB = 1024 * 1024


def render(rows: dict, memory_mb: dict, args: argparse.Namespace, machine: str, generator: str) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {machine}.",
        f"gunicorn 2 workers (sync), SQLite, {args.users} users, {args.posts:,} posts, {args.follows} follows each; "
        f"{args.connections} connections, {args.duration:g} s per row, load by {generator}.",
        "",
        *results_table(rows),
        "",
        "Peak RSS of a worker (VmHWM), and its RSS at the end: "
        + ", ".join(f"{name} {peak:.1f} MB ({now:.1f} MB)" for name, (peak, now) in memory_mb.items()),
        "",
        *targets_table(rows, memory_mb),
    ]
    return "\n".join(lines) + "\n"


def results_table(rows: dict) -> list[str]:
    bare = rows["bare"].result.rate
    lines = [
        "| page | req/s | p50 ms | p99 ms | × bare | log bytes | log B/req | log per 10 s | mails | wrong answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        r = row.result
        mails = "" if row.mails is None else str(row.mails)
        lines.append(
            f"| {row.name} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.rate / bare:.2f} "
            f"| {row.log_bytes:,} | {per_request(row):.0f} | {per_10s(row) / MB:.2f} MB | {mails} | {r.unexpected} |"
        )
    return lines


def per_request(row) -> float:
    """Log bytes written per request of the row (for an error storm: per failing request)."""
    return row.log_bytes / row.result.requests if row.result.requests else 0.0


def per_10s(row) -> float:
    """Log bytes written per 10 s of load at the row's rate."""
    return row.log_bytes / row.result.seconds * 10 if row.result.seconds else 0.0


def targets(rows: dict, memory_mb: dict) -> list[tuple[str, str, bool]]:
    """Return (target, measured, met) for each of the issue's targets that this run measured."""
    checks = [check for key in PAGES for check in page_checks(rows[key], rows["bare"].result.rate)]
    checks += error_checks(rows)
    worst_rss = max(peak for peak, _ in memory_mb.values())
    checks.append(("worker peak RSS under 80 MB", f"{worst_rss:.1f} MB", worst_rss < 80))
    if "growth" in rows:
        ratio = rows["growth"].result.p50_ms / rows["home"].result.p50_ms
        checks.append(("home p50 with the grown database at most 1.3 × small", f"{ratio:.2f} ×", ratio <= 1.3))
    return checks


def page_checks(row, bare_rate: float) -> list[tuple[str, str, bool]]:
    r = row.result
    return [
        (f"{row.name}: at least 500 req/s", f"{r.rate:,.0f} req/s", r.rate >= 500),
        (f"{row.name}: p99 under 60 ms", f"{r.p99_ms:.1f} ms", r.p99_ms < 60),
        (f"{row.name}: at least 0.2 of bare Flask", f"{r.rate / bare_rate:.2f}", r.rate / bare_rate >= 0.2),
    ]


def error_checks(rows: dict) -> list[tuple[str, str, bool]]:
    not_found = rows["404"].result.rate / rows["bare"].result.rate
    hole = rows["storm_hole"].result
    hole_share = hole.rate / rows["404"].result.rate
    mails = rows["storm_relay"].mails
    return [
        ("404 page: at least 0.4 of bare Flask", f"{not_found:.2f}", not_found >= 0.4),
        ("storm, black-hole relay: at least 0.5 of the 404 rate", f"{hole_share:.2f}", hole_share >= 0.5),
        ("storm, black-hole relay: p99 under 100 ms", f"{hole.p99_ms:.1f} ms", hole.p99_ms < 100),
        ("at most 2 alert mails for the whole storm (working relay)", f"{mails} mails", mails <= 2),
        *[
            (
                f"{rows[key].name}: under 1 MB of log per 10 s",
                f"{per_10s(rows[key]) / MB:.2f} MB",
                per_10s(rows[key]) < MB,
            )
            for key in ("storm_relay", "storm_hole")
        ],
    ]


def targets_table(rows: dict, memory_mb: dict) -> list[str]:
    lines = ["| target | measured | verdict |", "|---|---:|---|"]
    for target, measured, met in targets(rows, memory_mb):
        lines.append(f"| {target} | {measured} | {'met' if met else '**NOT met**'} |")
    return lines
