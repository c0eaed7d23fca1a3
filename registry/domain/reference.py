"""Reference data: Yiwu's divisions (行政区划) and the GB/T 4754-2017 industries seen there.

Divisions: the 8 streets (街道) and 6 towns (镇) of Yiwu, county code 330782; ``code`` is the
3-digit township part of the statistical division code (330782 001 = 稠城街道).

Industries: a short list of GB/T 4754-2017 (国民经济行业分类) classes common among Yiwu's
self-supplied water users. ``category`` names the high-water-use group of seed task 34
(thermal_power 火电, chemicals 化工, printing_dyeing 印染, papermaking 造纸) or is None.
It labels the class for people; whether a water-balance test is required is decided by
the rules file (:func:`registry.domain.balance.balance_test_required`).
"""

from __future__ import annotations

from dataclasses import dataclass

YIWU_COUNTY_CODE = "330782"  # 义乌市, GB/T 2260


@dataclass(frozen=True)
class Division:
    code: str  # 3-digit township code within 330782
    name_zh: str
    name_en: str  # pinyin
    kind: str  # "street" 街道 | "town" 镇

    @property
    def full_code(self) -> str:
        """9-digit code, e.g. ``330782001``."""
        return YIWU_COUNTY_CODE + self.code

    @property
    def full_name_zh(self) -> str:
        return self.name_zh + ("街道" if self.kind == "street" else "镇")


DIVISIONS: tuple[Division, ...] = (
    Division("001", "稠城", "Choucheng", "street"),
    Division("002", "北苑", "Beiyuan", "street"),
    Division("003", "稠江", "Choujiang", "street"),
    Division("004", "江东", "Jiangdong", "street"),
    Division("005", "后宅", "Houzhai", "street"),
    Division("006", "城西", "Chengxi", "street"),
    Division("007", "廿三里", "Niansanli", "street"),
    Division("008", "福田", "Futian", "street"),
    Division("100", "佛堂", "Fotang", "town"),
    Division("101", "赤岸", "Chi'an", "town"),
    Division("102", "义亭", "Yiting", "town"),
    Division("104", "上溪", "Shangxi", "town"),
    Division("105", "苏溪", "Suxi", "town"),
    Division("106", "大陈", "Dachen", "town"),
)


@dataclass(frozen=True)
class Industry:
    code: str  # GB/T 4754-2017 class (小类), 4 digits
    name_zh: str
    name_en: str
    category: str | None  # seed task 34 group, None for others

    @property
    def high_water_use(self) -> bool:
        return self.category is not None


INDUSTRIES: tuple[Industry, ...] = (
    Industry("4411", "火力发电", "Thermal power generation", "thermal_power"),
    Industry("4412", "热电联产", "Combined heat and power generation", "thermal_power"),
    Industry("2614", "有机化学原料制造", "Organic chemical raw materials", "chemicals"),
    Industry("2645", "染料制造", "Dyestuffs", "chemicals"),
    Industry(
        "2669", "其他专用化学产品制造", "Other special-purpose chemical products", "chemicals"
    ),
    Industry("1713", "棉印染精加工", "Cotton printing, dyeing and finishing", "printing_dyeing"),
    Industry(
        "1752",
        "化纤织物染整精加工",
        "Dyeing and finishing of chemical-fibre fabrics",
        "printing_dyeing",
    ),
    Industry(
        "1762",
        "针织或钩针编织物印染精加工",
        "Printing and dyeing of knitted or crocheted fabrics",
        "printing_dyeing",
    ),
    Industry("2221", "机制纸及纸板制造", "Machine-made paper and paperboard", "papermaking"),
    Industry("2222", "手工纸制造", "Handmade paper", "papermaking"),
    Industry("1522", "瓶（罐）装饮用水制造", "Bottled drinking water", None),
    Industry("1819", "其他机织服装制造", "Other woven garments", None),
    Industry("2438", "珠宝首饰及有关物品制造", "Jewellery and related articles", None),
    Industry("2927", "日用塑料制品制造", "Plastic household articles", None),
    Industry("3311", "金属结构制造", "Metal structures", None),
    Industry(
        "3360", "金属表面处理及热处理加工", "Metal surface treatment and heat treatment", None
    ),
    Industry("4610", "自来水生产和供应", "Tap water production and supply", None),
    Industry("7840", "绿化管理", "Greening management", None),
)

_DIVISIONS_BY_CODE = {d.code: d for d in DIVISIONS}
_INDUSTRIES_BY_CODE = {i.code: i for i in INDUSTRIES}


def division_by_code(code: str) -> Division | None:
    """Accepts ``"001"`` or the 9-digit ``"330782001"``."""
    if len(code) == 9 and code.startswith(YIWU_COUNTY_CODE):
        code = code[6:]
    return _DIVISIONS_BY_CODE.get(code)


def industry_by_code(code: str) -> Industry | None:
    return _INDUSTRIES_BY_CODE.get(code)
