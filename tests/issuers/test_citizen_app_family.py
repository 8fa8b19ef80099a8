"""The citizen app's family screen in headless Chromium at 390×844 (issue 15): a guardian binds a
child and shows the child's code in one tap (it verifies at a checkpoint); binding an adult
needs that adult's consent in their own app; an adult without an account is sent to a counter."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect

from healthcode.credential import StatusColour
from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    screenshot_qr_text,
    wait_for_colour,
)
from tests.issuers.conftest import citizen_number

pytestmark = pytest.mark.browser

CHILD = ("李小明", citizen_number(702, born=date(2016, 6, 1)))
ADULT = ("王大康", citizen_number(703), "13800138003")
NO_PHONE = ("陈老康", citizen_number(704, born=date(1940, 2, 3)))


def _bind(page: Page, name: str, id_number: str) -> None:
    page.click("#tabs [data-screen=family]")
    expect(page.locator("#screen-family")).to_be_visible()
    page.fill("#bind-name", name)
    page.fill("#bind-id", id_number)
    page.click("#bind-form button[type=submit]")


def test_guardian_binds_a_child_and_shows_the_childs_code_in_one_tap(
    browser: Browser, province: Province
) -> None:
    province.issuer.register(CHILD[1], CHILD[0])
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        _bind(page, *CHILD)
        expect(page.locator("#family-message")).to_have_text("已绑定。")
        member = page.locator("#family-list li").filter(has_text="李*明")
        expect(member).to_contain_text(CHILD[1][-4:])
        screenshot(page, "citizen-family.png")
        assert_accessible(page)

        member.get_by_role("button", name="出示健康码: 李*明").click()
        expect(page.locator("#screen-code")).to_be_visible()
        expect(page.locator("#who")).to_contain_text("李*明")
        wait_for_colour(page, "green")
        credential = province.checkpoint_accepts(screenshot_qr_text(page))
        assert credential.status is StatusColour.GREEN
        assert credential.masked_name == "李*明"
        screenshot(page, "citizen-code-dependant.png")
        assert_accessible(page)

        # The switcher on the code screen: back to oneself and to the child in one tap each.
        page.click("#people button[data-who=me]")
        expect(page.locator("#who")).to_contain_text("李*康")
        page.locator("#people button").filter(has_text="李*明").click()
        expect(page.locator("#who")).to_contain_text("李*明")

        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#tabs [data-screen=family]")
        page.locator("#family-list li").filter(has_text="李*明").get_by_role(
            "button", name="解绑: 李*明"
        ).click()
        expect(page.locator("#family-message")).to_have_text("已解绑。")
        expect(page.locator("#family-list")).to_have_text("还没有绑定家人。")


def test_binding_an_adult_needs_their_consent_in_their_own_app(
    browser: Browser, province: Province
) -> None:
    name, id_number, phone = ADULT
    province.issuer.register(id_number, name, phone)
    province.issuer.register(NO_PHONE[1], NO_PHONE[0])
    with phone_context(browser) as guardian_context, phone_context(browser) as adult_context:
        guardian = guardian_context.new_page()
        log_in(guardian, province)
        _bind(guardian, name, id_number)
        expect(guardian.locator("#family-message")).to_have_text(
            "已向对方发送同意请求，对方同意后完成绑定。"
        )
        # Nothing is bound yet: no list entry, and the guardian cannot see the adult's code.
        expect(guardian.locator("#family-list")).to_have_text("还没有绑定家人。")
        expect(guardian.locator("#pending-list")).to_contain_text("等待王*康")

        _bind(guardian, *NO_PHONE)
        expect(guardian.locator("#family-message")).to_have_text(
            "对方没有自己的账号，请带双方身份证到服务窗口绑定。"
        )

        adult = adult_context.new_page()
        log_in(adult, province, phone=phone)
        adult.click("#tabs [data-screen=family]")
        request = adult.locator("#consent-list li").filter(has_text="李*康")
        expect(request).to_contain_text("请求绑定您为家人")
        screenshot(adult, "citizen-family-consent.png")
        assert_accessible(adult)
        request.get_by_role("button", name="同意").click()
        expect(adult.locator("#family-message")).to_have_text("已同意。")
        holder = adult.locator("#guardian-list li").filter(has_text="李*康")
        expect(holder).to_be_visible()

        guardian.reload()
        expect(guardian.locator("#family-list li").filter(has_text="王*康")).to_be_visible()
        guardian.click("#tabs [data-screen=code]")
        guardian.locator("#people button").filter(has_text="王*康").click()
        expect(guardian.locator("#who")).to_contain_text("王*康")
        wait_for_colour(guardian, "green")
        credential = province.checkpoint_accepts(screenshot_qr_text(guardian))
        assert credential.masked_name == "王*康"

        # Consent can be taken back: the adult ends the guardian's access in their own app.
        adult.on("dialog", lambda dialog: dialog.accept())
        holder.get_by_role("button", name="取消: 李*康").click()
        expect(adult.locator("#family-message")).to_have_text("已取消，对方不能再查看您的健康码。")
        expect(adult.locator("#guardian-list")).to_have_text("没有人持有您的健康码。")
        guardian.click("#tabs [data-screen=family]")
        expect(guardian.locator("#family-list")).to_have_text("还没有绑定家人。")

        # A request can be withdrawn before it is answered: the adult then has nothing to answer.
        _bind(guardian, name, id_number)
        pending = guardian.locator("#pending-list li").filter(has_text="王*康")
        pending.get_by_role("button", name="撤回").click()
        expect(guardian.locator("#family-message")).to_have_text("已撤回。")
        expect(guardian.locator("#pending-list li")).to_have_count(0)
        adult.reload()
        adult.click("#tabs [data-screen=family]")
        expect(adult.locator("#consent-list")).to_have_text("没有待处理的请求。")
