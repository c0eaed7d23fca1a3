"""The columns of the bureau's spreadsheets, one sheet per kind of record (导入导出的列定义).

Titles are Chinese (the bureau's own spreadsheets); the English label and the field name are
accepted too on import. Each column says how a cell becomes a value and which rule applies, and
the template's notes sheet is printed from the same definitions.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

# Values of choice columns: exported as the Chinese word, accepted as the word, the English word
# or the stored code.
CHOICES = {
    "source": {"surface": ("地表水", "Surface water"), "ground": ("地下水", "Groundwater")},
    "meter_type": {"mechanical": ("机械式", "Mechanical"), "electromagnetic": ("电磁式", "Electromagnetic"),
                   "ultrasonic": ("超声波", "Ultrasonic"), "other": ("其他", "Other")},
    "reading_source": {"manual": ("人工抄表", "Manual"), "online": ("在线监测", "Online"),
                       "enterprise": ("企业报送", "Enterprise"), "estimated": ("估算", "Estimated")},
}


@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    type: str  # text | date | month | number | integer | choice:<name> | division | ref
    note: object  # the rule, shown in the template's notes sheet
    example: object = None

    def names(self) -> set[str]:
        return {normal(self.zh), normal(self.en), normal(self.field)}


@dataclass(frozen=True)
class Kind:
    name: str
    zh: str
    en: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]  # the natural key: fields that must have a column
    other_key: str | None = None  # a column that may stand in for the key (water users: the USCC)

    def has_key(self, fields) -> bool:
        return all(f in fields for f in self.keys) or (self.other_key is not None and self.other_key in fields)

    def column(self, field: str) -> Column | None:
        return next((c for c in self.columns if c.field == field), None)

    def sheet_names(self) -> set[str]:
        return {normal(self.zh), normal(self.en), normal(self.name)}


def normal(title: str) -> str:
    """A header as compared: case, spaces, underscores and full-width brackets do not matter."""
    text = str(title or "").strip().lower().replace("（", "(").replace("）", ")").replace("³", "3")
    return "".join(ch for ch in text if ch not in " _\t")


FILE_NO = Column("file_no", "档案号", "File number", "text",
                 _l("Required. The file number: 3–30 letters, digits or hyphens; the key of the water user."),
                 "YW-2026-0001")
WATER_USERS = Kind("water_users", "取水户", "Water users", (
    FILE_NO,
    Column("name", "单位名称", "Name", "text", _l("Required. At most 200 characters."), "义乌市示范印染有限公司"),
    Column("uscc", "统一社会信用代码", "USCC", "text",
           _l("Required. 18 characters, check character per GB 32100-2015; unique."), "91330100716105852F"),
    Column("legal_representative", "法定代表人", "Legal representative", "text", _l("Optional."), "王建国"),
    Column("contact_name", "联系人", "Contact", "text", _l("Optional."), "李海燕"),
    Column("contact_phone", "联系电话", "Phone", "text", _l("Optional. Digits, spaces, + - ( )."), "0579-85551234"),
    Column("email", "电子邮箱", "E-mail", "text", _l("Optional. Reminders are sent there."), "water@example.cn"),
    Column("address", "地址", "Address", "text", _l("Optional."), "浙江省义乌市稠城街道丹溪北路1088号"),
    Column("division_code", "镇街代码", "Division", "division",
           _l("Required. The 3-digit division code (001 稠城 … 106 大陈) or its Chinese name."), "001"),
    Column("industry_code", "行业代码", "Industry code", "text",
           _l("Required. 4-digit GB/T 4754-2017 industry code."), "1713"),
    Column("opened_on", "建档日期", "Opened on", "date", _l("Required. Date as YYYY-MM-DD, not in the future."),
           "2021-03-15"),
    Column("notes", "备注", "Notes", "text", _l("Optional."), None),
), keys=("file_no",), other_key="uscc")

INTAKE_POINTS = Kind("intake_points", "取水口", "Intake points", (
    FILE_NO,
    Column("name", "取水口名称", "Intake point", "text",
           _l("Required. Unique within the file; with the file number, the key of the intake point."), "1号取水口"),
    Column("source", "水源类型", "Source", "choice:source", _l("Required. 地表水 or 地下水."), "地表水"),
    Column("water_body", "水源名称", "Water body", "text", _l("Optional. River, reservoir or aquifer."), "义乌江"),
    Column("longitude", "经度", "Longitude", "number", _l("Required. CGCS2000, inside Yiwu (119.8–120.4° E)."),
           120.07),
    Column("latitude", "纬度", "Latitude", "number", _l("Required. CGCS2000, inside Yiwu (29.0–29.6° N)."), 29.31),
    Column("intake_method", "取水方式", "Intake method", "text", _l("Optional."), "泵站提水"),
    Column("design_capacity_m3h", "设计取水能力(m³/h)", "Design capacity (m3/h)", "number",
           _l("Optional. m³/h, not negative."), 50),
), keys=("file_no", "name"))

METERS = Kind("meters", "计量设施", "Meters", (
    FILE_NO,
    Column("serial", "表号", "Serial", "text",
           _l("Required. The meter's serial number: 3–60 letters, digits or - _ / .; unique."), "SN-2026-0001"),
    Column("intake_point", "取水口名称", "Intake point", "ref",
           _l("The name of an intake point of the same file; may be empty when the file has only one."),
           "1号取水口"),
    Column("meter_type", "类型", "Type", "choice:meter_type", _l("Required. 机械式, 电磁式, 超声波 or 其他."), "电磁式"),
    Column("manufacturer", "生产厂家", "Manufacturer", "text", _l("Optional."), None),
    Column("dn", "口径DN", "DN", "integer", _l("Optional. Nominal diameter, a whole number 1–3000."), 100),
    Column("q3", "常用流量Q3(m³/h)", "Q3 (m3/h)", "number", _l("Optional. Greater than 0."), 63),
    Column("accuracy_class", "准确度等级", "Accuracy class", "text", _l("Optional."), "2"),
    Column("installed_on", "安装日期", "Installed on", "date", _l("Required. Date as YYYY-MM-DD, not in the future."),
           "2022-01-10"),
    Column("removed_on", "拆除日期", "Removed on", "date", _l("Optional. Not before the installation."), None),
    Column("telemetry_id", "在线监测编号", "Telemetry id", "text", _l("Optional. Set for online meters."), None),
    Column("interval_months", "检定周期(月)", "Interval (months)", "integer",
           _l("Optional. Overrides the rules' verification interval (JJG 162)."), None),
    Column("service_life_years", "使用年限(年)", "Service life (years)", "integer",
           _l("Optional. Overrides the rules' service life."), None),
), keys=("serial",))

READINGS = Kind("readings", "月取水量", "Monthly readings", (
    Column("file_no", "档案号", "File number", "text",
           _l("Optional. When given, it must be the file of the meter."), "YW-2026-0001"),
    Column("serial", "表号", "Serial", "text", _l("Required. The serial of a meter in the registry."), "SN-2026-0001"),
    Column("period", "月份", "Month", "month",
           _l("Required. YYYY-MM, not in the future, not before the meter was installed; with the serial, the key."),
           "2026-01"),
    Column("volume_m3", "取水量(m³)", "Volume (m3)", "number", _l("Required. m³, not negative."), 3200),
    Column("meter_index", "表底数", "Meter index", "number", _l("Optional. The dial reading."), None),
    Column("source", "来源", "Source", "choice:reading_source",
           _l("Optional (人工抄表 when empty). 人工抄表, 在线监测, 企业报送 or 估算."), "人工抄表"),
), keys=("serial", "period"))

# In the order they are imported: a meter needs its intake point, a reading its meter.
KINDS: dict[str, Kind] = {k.name: k for k in (WATER_USERS, INTAKE_POINTS, METERS, READINGS)}
