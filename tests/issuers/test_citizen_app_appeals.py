"""The citizen app's appeals and history screens in headless Chromium at 390×844 (issue 15): an
appeal is filed, its state and the official's decision appear; the colour history lists each
change with its reason; an ID-card read at a checkpoint appears in "who looked at my status"."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Browser, expect

from issuers.auth import Role
from tests.browser import screenshot
from tests.issuers.citizen_app import (
    Province,
    assert_accessible,
    log_in,
    phone_context,
    wait_for_colour,
)
from tests.issuers.conftest import citizen_number
from tests.issuers.helpers import lab_csv, recent

pytestmark = pytest.mark.browser


def test_appeal_is_filed_and_the_decision_shows(browser: Browser, province: Province) -> None:
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        page.click("#tabs [data-screen=appeals]")
        expect(page.locator("#appeal-list")).to_have_text("没有申诉。")
        page.click("#appeal-form button[type=submit]")
        expect(page.locator("#appeal-message")).to_have_text("请写明申诉理由。")
        page.fill("#appeal-reason", "检测结果不是我的，我那天没有采样。")
        page.click("#appeal-form button[type=submit]")
        expect(page.locator("#appeal-message")).to_have_text(
            "申诉已提交，工作人员处理后会显示结果。"
        )
        filed = page.locator("#appeal-list li[data-state=open]")
        expect(filed).to_contain_text("处理中")
        expect(filed).to_contain_text("检测结果不是我的")
        # A second one while the first is open is refused, in words.
        page.fill("#appeal-reason", "再次申诉")
        page.click("#appeal-form button[type=submit]")
        expect(page.locator("#appeal-message")).to_contain_text("未成功")
        assert_accessible(page)

        appeal_id = filed.get_attribute("data-appeal")
        official = province.issuer.staff_headers(Role.HEALTH_OFFICIAL)
        decided = province.issuer.http.post(
            f"/v1/corrections/{appeal_id}/decision",
            json={"decision": "reject", "note": "采样记录与本人身份证一致。"},
            headers=official,
        )
        assert decided.status_code == 200, decided.text
        page.click("#tabs [data-screen=code]")
        page.click("#tabs [data-screen=appeals]")
        rejected = page.locator(f"#appeal-list li[data-appeal='{appeal_id}']")
        expect(rejected).to_have_attribute("data-state", "rejected")
        expect(rejected).to_contain_text("未采纳")
        expect(rejected).to_contain_text("决定：采样记录与本人身份证一致。")
        screenshot(page, "citizen-appeals.png")
        assert_accessible(page)


def test_history_lists_colour_changes_and_who_looked(browser: Browser, province: Province) -> None:
    child_id = citizen_number(705, born=date(2018, 3, 3))
    province.issuer.register(child_id, "李小明")
    bound = province.issuer.http.post(
        "/v1/family",
        json={"id_number": child_id, "name": "李小明"},
        headers=province.issuer.citizen_headers(province.id_number),
    )
    assert bound.status_code == 201, bound.text
    official = province.issuer.staff_headers(Role.HEALTH_OFFICIAL)
    imported = province.issuer.http.post(
        "/v1/feeds/lab_results",
        content=lab_csv((province.id_number, "positive", "pcr", recent())),
        headers={**official, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    checkpoint = province.issuer.staff_headers(Role.CHECKPOINT)
    read = province.issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": province.id_number, "checkpoint_id": "chengdu-east-gate-3"},
        headers=checkpoint,
    )
    assert read.status_code == 200, read.text
    child_read = province.issuer.http.post(
        "/v1/checkpoint/status-lookup",
        json={"id_number": child_id, "checkpoint_id": "school-gate-1", "assisted": True},
        headers=checkpoint,
    )
    assert child_read.status_code == 200, child_read.text
    with phone_context(browser) as context:
        page = context.new_page()
        log_in(page, province)
        wait_for_colour(page, "red")
        page.click("#tabs [data-screen=history]")
        red = page.locator("#history-list li").filter(has_text="红码")
        expect(red).to_contain_text("核酸检测阳性")
        looked = page.locator("#access-list li").filter(has_text="chengdu-east-gate-3")
        expect(looked).to_contain_text("检查点")
        expect(page.locator("#access-list")).not_to_contain_text("school-gate-1")
        screenshot(page, "citizen-history.png")
        assert_accessible(page)
        # A guardian also sees who looked at the status of a child they hold the code of.
        page.select_option("#access-who", label="李*明")
        expect(page.locator("#access-list li").filter(has_text="school-gate-1")).to_be_visible()
        expect(page.locator("#access-list")).not_to_contain_text("chengdu-east-gate-3")
