"""The browser watch itself: it must catch what it is there to catch, or every browser test is hollow."""

from tests.e2e.conftest import PageWatch


def test_the_watch_records_outside_requests_console_errors_and_status_reports(browser):
    watch = PageWatch()
    context = browser.new_context()
    context.route("**/*", watch.on_request)
    page = context.new_page()
    page.on("console", watch.on_console)
    # 127.0.0.2 is loopback too, so even a leak stays on this machine; the watch allows only 127.0.0.1.
    page.set_content('<img src="http://127.0.0.2:9/pixel.png">')
    page.evaluate("() => console.error('something broke')")
    page.wait_for_function("() => document.images[0].complete")
    context.close()
    assert watch.outside_requests == ["http://127.0.0.2:9/pixel.png"]
    assert any("something broke" in error for error in watch.console_errors)
