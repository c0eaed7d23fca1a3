"""Yiwu's 14 divisions and the GB/T 4754-2017 reference industries."""

from registry.domain.reference import (
    DIVISIONS,
    INDUSTRIES,
    division_by_code,
    industry_by_code,
)


def test_yiwu_has_8_streets_and_6_towns():
    assert len(DIVISIONS) == 14
    assert [d.kind for d in DIVISIONS].count("street") == 8
    assert [d.kind for d in DIVISIONS].count("town") == 6
    assert len({d.code for d in DIVISIONS}) == 14


def test_division_lookup_by_short_or_full_code():
    choucheng = division_by_code("001")
    assert choucheng is not None
    assert (choucheng.name_zh, choucheng.name_en) == ("稠城", "Choucheng")
    assert choucheng.full_code == "330782001"
    assert choucheng.full_name_zh == "稠城街道"
    assert division_by_code("330782100").full_name_zh == "佛堂镇"
    assert division_by_code("103") is None  # no 103 in the list


def test_reference_industries_have_unique_4_digit_codes():
    codes = [i.code for i in INDUSTRIES]
    assert len(codes) == len(set(codes))
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert industry_by_code("4411").name_zh == "火力发电"
    assert industry_by_code("0000") is None


def test_the_four_high_water_use_groups_are_all_present():
    groups = {i.category for i in INDUSTRIES if i.high_water_use}
    assert groups == {"thermal_power", "chemicals", "printing_dyeing", "papermaking"}
