"""End-to-end in real Chromium: search, trace view, request view, services, keyboard, XSS."""

from __future__ import annotations

import re

import pytest

from .synthetic import XSS

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

pytestmark = pytest.mark.timeout(120)


def ready(page, kind: str) -> None:
    page.wait_for_selector(f"body[data-ready={kind}]")


def test_search_by_service_and_open_a_trace(probe):
    page = probe.page
    page.goto("/search")
    ready(page, "search")
    page.select_option("#f-service", "libvirt")
    page.wait_for_selector("#f-operation option[value=spawn]", state="attached")
    page.select_option("#f-operation", "spawn")
    page.fill("[name=minDuration]", "100ms")
    page.click("#search-form button[type=submit]")
    page.wait_for_url(
        re.compile(r"/search\?service=libvirt&operation=spawn&minDuration=100ms"), wait_until="commit"
    )
    ready(page, "search")
    assert 'resource.service.name = "libvirt" && name = "spawn"' in page.inner_text(".effective")
    rows = page.locator(".results-table tbody tr")
    assert rows.count() >= 10
    assert page.locator(".scatter-svg circle").count() == rows.count()
    first = rows.first
    assert "management" in first.inner_text() and "hypervisor" in first.inner_text()
    probe.shot("search")
    # the URL alone restores the form
    page.reload()
    ready(page, "search")
    assert page.input_value("#f-service") == "libvirt" and page.input_value("[name=minDuration]") == "100ms"
    first = page.locator(".results-table tbody tr").first
    trace_id = first.locator(".trace-link").get_attribute("href").rsplit("/", 1)[1]
    first.locator(".trace-link").click()
    page.wait_for_url(f"**/trace/{trace_id}", wait_until="commit")
    ready(page, "trace")
    assert page.inner_text("h1") == "nova-api: POST /v2.1/servers"


def test_traceql_autocomplete_names_and_values(probe):
    page = probe.page
    page.goto("/search")
    ready(page, "search")
    box = page.locator("#f-q")
    box.click()
    box.type("{ resource.clu")
    option = page.locator("#traceql-suggestions li", has_text="resource.cluster")
    option.wait_for()
    box.press("Enter")
    assert box.input_value() == "{ resource.cluster"
    box.type(' = "hyp')
    page.locator("#traceql-suggestions li", has_text="hypervisor").wait_for()
    box.press("Tab")
    assert box.input_value() == '{ resource.cluster = "hypervisor"'
    box.type(" }")
    box.press("Enter")  # list closed: Enter submits
    page.wait_for_url(re.compile(r"q=%7B\+resource\.cluster"), wait_until="commit")
    ready(page, "search")
    assert page.locator(".results-table tbody tr").count() >= 10


def test_trace_view_tree_details_and_keyboard(probe, ui_data):
    page = probe.page
    page.goto(f"/trace/{ui_data['failing']}")
    ready(page, "trace")
    path = page.locator(".cluster-path .cname").all_inner_texts()
    assert path == ["management", "control-plane", "hypervisor"]
    assert "broker 6.50ms" in page.inner_text(".cluster-path")
    rows = page.locator(".wf-row:not([hidden])")
    assert rows.count() == 20
    assert page.locator(".wf-row.crit:not([hidden])").count() >= 8
    assert page.locator(".wf-row.error:not([hidden])").count() == 2
    # collapse the root with its toggle, expand again with the keyboard
    root = page.locator(".wf-row[aria-level='1']")
    root.locator(".tog").click()
    assert rows.count() == 1 and root.get_attribute("aria-expanded") == "false"
    page.focus(".wf-scroll")
    page.keyboard.press("ArrowRight")
    assert rows.count() == 20
    page.locator(".wf-row", has_text="nova-conductor").first.locator(".tog").click()
    assert rows.count() == 5  # root, keystone, db, send, the collapsed conductor
    page.click("button[data-action=expand]")
    # span details by click
    page.locator(".wf-row", has_text="spawn").click()
    details = page.locator("aside.details")
    details.wait_for()
    assert details.locator("h2").inner_text() == "spawn"
    assert "status error" in details.inner_text() and "instance failed to spawn" in details.inner_text()
    assert "openstack.request_id" in details.inner_text()
    assert "span=" in page.url
    probe.shot("trace")
    # keyboard: next span, Enter shows it, Esc closes
    page.focus(".wf-scroll")
    page.keyboard.press("ArrowDown")
    assert details.locator("h2").inner_text() == "define domain"
    page.keyboard.press("Escape")
    assert details.is_hidden()
    # in-trace search highlights and walks the matches
    page.fill("[data-search-box]", "neutron")
    expect(page.locator(".find-count")).to_have_text("3 matches")
    assert page.locator(".wf-row.hit:not([hidden])").count() == 3
    page.press("[data-search-box]", "Enter")
    assert page.inner_text(".find-count") == "1 of 3"


def test_big_trace_is_virtualised_and_scrolls(probe, ui_data):
    page = probe.page
    page.goto(f"/trace/{ui_data['big']}")
    ready(page, "trace")
    assert page.inner_text("[data-testid=span-count]") == "2000"
    assert page.locator(".wf-row").count() < 120  # only the rows in view exist
    page.eval_on_selector(".wf-scroll", "el => { el.scrollTop = el.scrollHeight; }")
    expect(page.locator(".wf-row:not([hidden])", has_text="db update instance")).to_have_count(1)
    # the minimap scrolls too
    page.eval_on_selector(".wf-scroll", "el => { el.scrollTop = 0; }")
    box = page.locator(".wf-mapbox").bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + box["height"] - 2)
    assert page.eval_on_selector(".wf-scroll", "el => el.scrollTop") > 1000
    page.click("button[data-action=level]")
    assert page.locator(".wf-row:not([hidden])").count() < 40


def test_jump_to_request_id_stitches_its_traces(probe, ui_data):
    page = probe.page
    page.goto("/search")
    ready(page, "search")
    page.fill("#jump-input", "  " + ui_data["lost_request_id"].upper() + " ")
    page.press("#jump-input", "Enter")
    page.wait_for_url(f"**/request/{ui_data['lost_request_id']}", wait_until="commit")
    ready(page, "request")
    cards = page.locator(".trace-cards li")
    assert cards.count() == 2
    assert "context was lost" in page.inner_text(".trace-head")
    hrefs = [cards.nth(i).locator("a").get_attribute("href") for i in range(2)]
    assert hrefs == [f"/trace/{t}" for t in ui_data["lost_traces"]]
    assert page.locator(".wf-row[aria-level='1']").count() == 2
    probe.shot("request")
    page.locator(".wf-row", has_text="spawn").first.click()
    page.locator("aside.details a.button").click()
    ready(page, "trace")
    assert page.locator("aside.details h2").inner_text() == "spawn"
    # a trace id in the jump box opens the trace; junk is refused in place
    page.fill("#jump-input", ui_data["big"])
    page.press("#jump-input", "Enter")
    page.wait_for_url(f"**/trace/{ui_data['big']}", wait_until="commit")
    page.fill("#jump-input", "not an id")
    page.press("#jump-input", "Enter")
    assert page.eval_on_selector("#jump-input", "el => el.validity.customError")


def test_unknown_trace_and_request_say_so(probe):
    page = probe.page
    probe.allowed_errors = ("the server responded with a status of 404",)
    page.goto("/trace/" + "ab" * 16)
    ready(page, "error")
    assert "trace not found" in page.inner_text("[role=alert]")
    page.goto("/request/req-00000000-0000-4000-8000-000000000000")
    ready(page, "error")
    assert "no trace carries request id" in page.inner_text("[role=alert]")


def test_services_dependency_graph_and_red_table(probe):
    page = probe.page
    page.goto("/services")
    ready(page, "services")
    clusters = page.locator(".graph .cluster-box .cluster-label").all_text_contents()
    assert clusters == ["management", "control-plane", "hypervisor"]
    assert page.locator(".graph .node").count() == 8
    edge = page.locator('.graph .edge[data-edge="nova-conductor→nova-compute"]')
    assert edge.count() == 1 and "calls" in edge.locator("title").text_content()
    assert page.locator(".graph .edge-label").count() == page.locator(".graph .edge").count()
    probe.shot("services")
    page.fill("[data-search-box]", "spawn")
    row = page.locator(".red-table tbody tr")
    assert row.count() == 1
    row.locator("a", has_text="errors").click()
    ready(page, "search")
    assert page.input_value("#f-q") == "{ status = error }"
    assert page.locator(".results-table tbody tr").count() == 1


def test_span_data_is_shown_as_text_never_run(probe, ui_data):
    page = probe.page
    page.goto(f"/trace/{ui_data['evil']}")
    ready(page, "trace")
    evil_row = page.locator(".wf-row", has_text=XSS)
    assert evil_row.count() == 1 and evil_row.locator(".op").inner_text() == XSS
    page.locator(".wf-row[aria-level='1']").click()
    details = page.locator("aside.details")
    assert XSS in details.locator(".kv").first.inner_text()
    assert details.locator(".events").inner_text().count(XSS) >= 2
    evil_row.click()
    details.locator("summary", has_text="Resource").click()
    assert XSS in details.inner_text()
    page.fill("[data-search-box]", "onerror")
    expect(page.locator(".find-count")).to_have_text(re.compile("match"))
    probe.shot("xss")
    assert page.locator("img").count() == 0  # nothing became markup
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
    # and a dialog would have been caught by the probe fixture


@pytest.mark.parametrize("probe", ["dark"], indirect=True)
def test_dark_theme_follows_the_system(probe, ui_data):
    page = probe.page
    page.goto(f"/trace/{ui_data['failing']}")
    ready(page, "trace")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(20, 24, 31)"
    probe.shot("trace-dark")


def test_otlp_download_link(probe, ui_data):
    page = probe.page
    page.goto(f"/trace/{ui_data['failing']}")
    ready(page, "trace")
    with page.expect_download() as info:
        page.click("text=Download OTLP JSON")
    download = info.value
    assert download.suggested_filename == f"trace-{ui_data['failing']}.json"


def test_query_composition_and_id_recognition(probe):
    page = probe.page
    page.goto("/search")
    ready(page, "search")
    got = page.evaluate(
        """async () => {
          const base = new URL(document.querySelector('script[type=module]').src);
          const search = await import(new URL('search.js', base));
          const main = await import(new URL('main.js', base));
          const fmt = await import(new URL('format.js', base));
          return {
            form: search.composeQuery({ service: 'nova "api"', operation: '', minDuration: '100ms', q: '' }),
            both: search.composeQuery({ service: 'x', q: '{ status = error }' }),
            none: search.composeQuery({}),
            req: main.jumpTarget(' REQ-0B7E3F2A-1C4D-4E5F-8A9B-0C1D2E3F4A5B '),
            trace: main.jumpTarget('ABC123'),
            zeros: main.jumpTarget('0000'),
            junk: main.jumpTarget('req-123'),
            dur: fmt.parseDuration('1m30s'),
            durs: [fmt.fmtDuration(999), fmt.fmtDuration(1.5e6), fmt.fmtDuration(2.25e9), fmt.fmtDuration(95e9)],
          };
        }"""
    )
    assert got["form"] == '{ resource.service.name = "nova \\"api\\"" && traceDuration >= 100ms }'
    assert got["both"] == '{ resource.service.name = "x" } && { status = error }'
    assert got["none"] == "{}"
    assert got["req"] == "/request/req-0b7e3f2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert got["trace"] == "/trace/abc123"
    assert got["zeros"] is None and got["junk"] is None
    assert got["dur"] == 90e9
    assert got["durs"] == ["999ns", "1.50ms", "2.25s", "1m35s"]
