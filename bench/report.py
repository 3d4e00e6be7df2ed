"""The benchmark's table and the issues' targets, each marked met or NOT met, for the rows a run measured."""

import argparse
import shlex
import subprocess
import sys
import time

PAGES = ("home", "explore", "profile", "profile2")
NOT_FOUND = ("404", "404_anon", "bare404")
# Each row's floor: the bare page served the same way (from the same database, behind the same proxy).
FLOORS = {"pg_home": "pg_bare", "pg_explore": "pg_bare", "pg_profile": "pg_bare", "nginx_home": "nginx_bare"}
GROWN = {"growth_home": "home", "growth_explore": "explore", "growth_profile": "profile"}  # grown: small
MB = 1024 * 1024


def render(rows: dict, memory_mb: dict, args: argparse.Namespace, machine: str, generator: str) -> str:
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} of {commit()} on {machine}.",
        f"gunicorn 2 workers (sync), SQLite unless the row names PostgreSQL, {args.users} users, {args.posts:,} "
        f"posts, {args.follows} follows each; {args.connections} connections, {args.duration:g} s per row, "
        f"load by {generator}.",
        f"The grown site: {args.growth_posts:,} posts, {args.growth_users:,} users, every one following one user "
        f"(the star, {args.star_posts:,} posts); each logged-in user follows {args.growth_follows:,}. "
        "nginx: the committed site file, TLS on loopback, 1 worker process.",
        "× floor: the rate against the bare Flask page served the same way (directly; after one read for the "
        "PostgreSQL rows; through nginx for the nginx rows).",
        f"Reproduce: {reproduce()}",
        "",
        *results_table(rows),
        "",
        "Peak RSS of a worker (VmHWM), and its RSS at the end: "
        + ", ".join(f"{name} {peak:.1f} MB ({now:.1f} MB)" for name, (peak, now) in memory_mb.items()),
        "",
        *targets_table(rows, memory_mb),
    ]
    return "\n".join(lines) + "\n"


def commit() -> str:
    found = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True)
    return found.stdout.strip() or "an unknown commit"


def reproduce() -> str:
    return f'make bench BENCH_ARGS="{shlex.join(sys.argv[1:])}"' if sys.argv[1:] else "make bench"


def results_table(rows: dict) -> list[str]:
    bare = rows["bare"].result.rate
    bare404 = rows["bare404"].result.rate
    lines = [
        "| page | users | req/s | p50 ms | p99 ms | × floor | × bare 404 | worker CPU ms/req "
        "| log B/req | log per 10 s | mails | wrong |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in rows.items():
        floor = rows[FLOORS[key]].result.rate if FLOORS.get(key) in rows else bare
        r = row.result
        users = f"{row.users} logged in" if row.users else "anonymous"
        to_404 = f"{r.rate / bare404:.2f}" if key in NOT_FOUND or key.startswith("storm") else ""
        mails = "" if row.mails is None else str(row.mails)
        lines.append(
            f"| {row.name} | {users} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.rate / floor:.2f} | {to_404} | {row.worker_cpu_ms:.2f}{proxy_cpu(row)} "
            f"| {per_request(row):.0f} | {per_10s(row) / MB:.2f} MB "
            f"| {mails} | {r.unexpected} |"
        )
    return lines


def proxy_cpu(row) -> str:
    return "" if row.proxy_cpu_ms is None else f" + nginx {row.proxy_cpu_ms:.2f}"


def per_request(row) -> float:
    """Log bytes written per request of the row (for an error storm: per failing request)."""
    return row.log_bytes / row.result.requests if row.result.requests else 0.0


def per_10s(row) -> float:
    """Log bytes written per 10 s of load at the row's rate."""
    return row.log_bytes / row.result.seconds * 10 if row.result.seconds else 0.0


def targets(rows: dict, memory_mb: dict) -> list[tuple[str, str, bool]]:
    """Return (target, measured, met) for each target this run measured."""
    checks = [check for key in PAGES if key in rows for check in page_checks(rows[key], rows["bare"].result.rate)]
    checks += production_checks(rows)
    if "404" in rows:
        ratio = rows["404"].result.rate / rows["bare404"].result.rate
        checks.append(("404 page, logged in: at least 0.4 of the bare 404", f"{ratio:.2f}", ratio >= 0.4))
    if logged_in := [row for row in rows.values() if row.users]:
        reset = [row.name for row in logged_in if row.resets_cookie]
        checks.append(("logged-in pages keep their session cookie", ", ".join(reset) or "kept", not reset))
    checks += error_checks(rows)
    if memory_mb:
        worst_rss = max(peak for peak, _ in memory_mb.values())
        checks.append(("worker peak RSS under 80 MB", f"{worst_rss:.1f} MB", worst_rss < 80))
    checks += growth_checks(rows)
    return checks


def production_checks(rows: dict) -> list[tuple[str, str, bool]]:
    """The pages as production serves them: from PostgreSQL, behind nginx, and to a client that keeps one cookie."""
    checks = []
    for key in ("pg_home", "pg_explore", "pg_profile"):
        if {key, "pg_bare"} <= rows.keys():
            ratio = rows[key].result.rate / rows["pg_bare"].result.rate
            target = f"{rows[key].name}: at least 0.2 of the bare page after one PostgreSQL read"
            checks.append((target, f"{ratio:.2f}", ratio >= 0.2))
    if {"nginx_home", "home"} <= rows.keys():
        ratio = rows["nginx_home"].result.rate / rows["home"].result.rate
        checks.append(("home behind nginx: at least 0.8 × home without it", f"{ratio:.2f} ×", ratio >= 0.8))
    if "one_user" in rows:
        ratio = rows["one_user"].result.rate / rows["bare"].result.rate
        checks.append(("home, one user's cookie: at least 0.2 of the bare page", f"{ratio:.2f}", ratio >= 0.2))
    return checks


def growth_checks(rows: dict) -> list[tuple[str, str, bool]]:
    """The grown site: each page's p50 against the small site's, and a deep page's against its first page's."""
    checks = []
    for grown, small in GROWN.items():
        if {grown, small} <= rows.keys():
            ratio = rows[grown].result.p50_ms / rows[small].result.p50_ms
            target = f"{rows[grown].name}: p50 at most 1.3 × the small site's {small}"
            checks.append((target, f"{ratio:.2f} ×", ratio <= 1.3))
        if {grown, grown + "_deep"} <= rows.keys():
            ratio = rows[grown + "_deep"].result.p50_ms / rows[grown].result.p50_ms
            target = f"{rows[grown + '_deep'].name}: p50 at most 1.3 × the first page's"
            checks.append((target, f"{ratio:.2f} ×", ratio <= 1.3))
    return checks


def page_checks(row, bare_rate: float) -> list[tuple[str, str, bool]]:
    r = row.result
    return [
        (f"{row.name}: at least 500 req/s", f"{r.rate:,.0f} req/s", r.rate >= 500),
        (f"{row.name}: p99 under 60 ms", f"{r.p99_ms:.1f} ms", r.p99_ms < 60),
        (f"{row.name}: at least 0.2 of the bare page", f"{r.rate / bare_rate:.2f}", r.rate / bare_rate >= 0.2),
    ]


def error_checks(rows: dict) -> list[tuple[str, str, bool]]:
    """The error storms' targets; a storm is anonymous, so its share is of the anonymous 404 (as in earlier runs)."""
    checks = []
    if {"storm_hole", "404_anon"} <= rows.keys():
        hole = rows["storm_hole"].result
        share = hole.rate / rows["404_anon"].result.rate
        checks.append(("storm, black-hole relay: at least 0.5 of the anonymous 404 rate", f"{share:.2f}", share >= 0.5))
        checks.append(("storm, black-hole relay: p99 under 100 ms", f"{hole.p99_ms:.1f} ms", hole.p99_ms < 100))
    if "storm_relay" in rows:
        mails = rows["storm_relay"].mails
        checks.append(("at most 2 alert mails for the whole storm (working relay)", f"{mails} mails", mails <= 2))
    for key in ("storm_relay", "storm_hole"):
        if key in rows:
            volume = per_10s(rows[key])
            checks.append((f"{rows[key].name}: under 1 MB of log per 10 s", f"{volume / MB:.2f} MB", volume < MB))
            found = rows[key].found_midway
            target = f"{rows[key].name}: a reference from its middle found by flask errors find"
            checks.append((target, "found" if found else "not found", bool(found)))
    return checks


def targets_table(rows: dict, memory_mb: dict) -> list[str]:
    lines = ["| target | measured | verdict |", "|---|---:|---|"]
    for target, measured, met in targets(rows, memory_mb):
        lines.append(f"| {target} | {measured} | {'met' if met else '**NOT met**'} |")
    return lines
