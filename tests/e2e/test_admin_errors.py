"""/admin/errors in Chromium: an admin finds it in the menu, sees the faults with their sparklines at desktop and
phone width and resolves one; others have no menu entry and get a 404."""

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import assert_no_axe_violations, flask_command
from tests.e2e.site import Visitor, assert_site_layout
from tests.support.servers import gunicorn
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.slow
# The room each option's label has inside the select (its padding keeps the arrow's place), in px.
LABEL_ROOM = """select => {
  const style = getComputedStyle(select), text = document.createElement("canvas").getContext("2d");
  text.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [...select.options].map(option => [option.text, Math.ceil(text.measureText(option.text).width), room]);
}"""


@pytest.fixture(scope="module")
def alerting_server(server_env, tmp_path_factory):
    """The e2e site with alert mail on (to a real SMTP server), so that failures are kept in the fault list."""
    folder = tmp_path_factory.mktemp("admin-errors")
    with smtp_server() as (inbox, port):
        env = {**server_env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "ADMINS": "ops@example.com",
               "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3")}  # fmt: skip
        flask_command(env, "users", "admin", "demo1")
        with gunicorn(folder, env, workers=2) as server:
            yield server


def test_an_admin_sees_the_fault_list_and_resolves_a_fault(page, watch, alerting_server, screenshot):
    visitor = Visitor(page, alerting_server.url)
    visitor.log_in("demo1")
    watch.expected_statuses.add(500)
    failed = visitor.open("/demo/error")
    page.get_by_label("What were you doing when this happened?").fill("Opening the demo error, on purpose.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()

    visitor.open("/admin/errors")
    row = page.locator("table.fault-list tbody tr").first
    expect(row).to_contain_text("DemoFailure")
    expect(row).to_contain_text(failed.header_value("x-request-id"))
    expect(row).to_contain_text("Opening the demo error, on purpose.")
    expect(row.locator("svg.sparkline polyline")).to_be_visible()
    expect(row.locator(".badge")).to_have_text("new")
    assert_site_layout(page)
    screenshot("admin-errors")

    row.get_by_role("button", name="Resolve").click()
    expect(page.locator("table.fault-list tbody tr").first.locator(".badge")).to_have_text("resolved")


def test_the_admin_page_is_a_404_for_someone_not_an_admin(page, watch, alerting_server):
    visitor = Visitor(page, alerting_server.url)
    visitor.log_in("demo2")
    watch.expected_statuses.add(404)
    response = visitor.open("/admin/errors")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def cut_labels(select: Locator) -> list[str]:
    """Return the options whose label does not fit in the select as it is drawn (a cut label reads "1 ⌄")."""
    return [f"{text!r}: {needs} px in {room} px" for text, needs, room in select.evaluate(LABEL_ROOM) if needs > room]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_admin_page_is_in_the_menu_and_reads_at_desktop_and_phone_width(page, watch, alerting_server, screenshot,
                                                                             width):  # fmt: skip
    page.set_viewport_size({"width": width, "height": 900})
    visitor = Visitor(page, alerting_server.url)
    visitor.log_in("demo1")
    watch.expected_statuses.add(500)
    visitor.open("/demo/error")
    visitor.open("/explore")  # the 500 page's menu loads no user, so it has no entry for admins

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Errors").click()

    expect(page).to_have_url(alerting_server.url + "/admin/errors")
    page.wait_for_load_state()  # the stylesheets too: the widths are measured as drawn
    row = page.locator("table.fault-list tbody tr").first
    expect(row).to_contain_text("DemoFailure")
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"the page is {wide[0]} px wide in a {wide[1]} px window"
    assert cut_labels(row.get_by_role("combobox")) == []
    assert_no_axe_violations(page)
    screenshot(f"admin-errors-{width}")


def test_the_menu_names_the_admin_page_to_admins_and_no_one_else(page, alerting_server):
    visitor = Visitor(page, alerting_server.url)
    menu = page.get_by_role("navigation", name="Main")

    visitor.log_in("demo1")
    expect(menu.get_by_role("link", name="Errors")).to_have_attribute("href", "/admin/errors")
    visitor.log_out()
    visitor.log_in("demo2")
    expect(menu.get_by_role("link", name="Explore")).to_be_visible()
    expect(menu.get_by_role("link", name="Errors")).to_have_count(0)
