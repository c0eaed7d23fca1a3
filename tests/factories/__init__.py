"""factory_boy factories for a whole file; each makes valid records that pass the services."""
from __future__ import annotations

import random
from datetime import date, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from registry.clock import today as bureau_today
from registry.domain.uscc import make_uscc
from registry.extensions import db
from registry import models as m

PASSWORD = "correct-horse-battery"


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class WaterUserFactory(Base):
    class Meta:
        model = m.WaterUser

    file_no = factory.Sequence(lambda n: f"YW-T{n:05d}")
    name = factory.Sequence(lambda n: f"义乌市测试{n}印染有限公司")
    uscc = factory.Sequence(lambda n: make_uscc(random.Random(n)))
    legal_representative = "王建国"
    contact_name = "李海燕"
    contact_phone = "13800000000"
    address = "浙江省义乌市稠城街道测试路1号"
    division_code = "001"
    industry_code = "1713"
    opened_on = date(2020, 3, 1)
    status = "active"


class IntakePointFactory(Base):
    class Meta:
        model = m.IntakePoint

    water_user = factory.SubFactory(WaterUserFactory)
    name = factory.Sequence(lambda n: f"{n}号取水口")
    source = "surface"
    water_body = "义乌江"
    longitude = 120.07
    latitude = 29.31
    design_capacity_m3h = 50.0


class PermitFactory(Base):
    class Meta:
        model = m.Permit

    water_user = factory.SubFactory(WaterUserFactory)
    number = factory.Sequence(lambda n: f"D330782S2024-{n % 10000:04d}")
    issuing_authority = "义乌市水务局"
    issued_on = factory.LazyFunction(lambda: bureau_today() - timedelta(days=400))
    valid_from = factory.LazyFunction(lambda: bureau_today() - timedelta(days=365))
    valid_to = factory.LazyFunction(lambda: bureau_today() + timedelta(days=3 * 365))
    annual_volume_m3 = 50000.0
    purpose = "工业生产"


class MeterFactory(Base):
    class Meta:
        model = m.Meter

    intake_point = factory.SubFactory(IntakePointFactory)
    water_user = factory.SelfAttribute("intake_point.water_user")
    serial = factory.Sequence(lambda n: f"SN-T{n:06d}")
    meter_type = "electromagnetic"
    dn = 100
    q3 = 63.0
    installed_on = date(2022, 1, 10)


class CalibrationFactory(Base):
    class Meta:
        model = m.Calibration

    meter = factory.SubFactory(MeterFactory)
    calibrated_on = date(2024, 1, 10)
    kind = "subsequent"
    agency = "义乌市计量检定测试所"
    certificate_no = factory.Sequence(lambda n: f"JD{n:06d}")
    error_pct = 0.8
    passed = True
    next_due_on = date(2026, 1, 10)


class ReadingFactory(Base):
    class Meta:
        model = m.Reading

    meter = factory.SubFactory(MeterFactory)
    water_user_id = factory.SelfAttribute("meter.water_user_id")
    period = date(2026, 1, 1)
    volume_m3 = 3000.0
    source = "manual"
    status = "accepted"


class BalanceTestFactory(Base):
    class Meta:
        model = m.BalanceTest

    water_user = factory.SubFactory(WaterUserFactory)
    tested_on = date(2023, 5, 1)
    agency = "浙江节水技术服务中心"
    vf, vr, vco, vd, vl = 100000.0, 150000.0, 20000.0, 77000.0, 3000.0
    next_due_on = date(2028, 5, 1)


class InspectionFactory(Base):
    class Meta:
        model = m.Inspection

    water_user = factory.SubFactory(WaterUserFactory)
    inspected_on = date(2026, 6, 1)
    site_contact = "李海燕"


class RectificationFactory(Base):
    class Meta:
        model = m.Rectification

    inspection = factory.SubFactory(InspectionFactory)
    water_user_id = factory.SelfAttribute("inspection.water_user_id")
    requirement = "水表铅封缺失，限期加封"
    deadline = date(2026, 7, 1)
    status = "open"


class AccountFactory(Base):
    class Meta:
        model = m.Account

    username = factory.Sequence(lambda n: f"user{n}")
    role = "bureau_admin"
    password_hash = factory.LazyFunction(
        lambda: __import__("werkzeug.security").security.generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
    display_name = factory.LazyAttribute(lambda o: o.username)


def admin(**kw) -> m.Account:
    return AccountFactory(role="bureau_admin", **kw)


def inspector(divisions=("001",), city_wide=False, **kw) -> m.Account:
    return AccountFactory(role="inspector", city_wide=city_wide,
                          divisions=[db.session.get(m.Division, d) for d in divisions], **kw)


def enterprise(*water_users, **kw) -> m.Account:
    return AccountFactory(role="enterprise", water_users=list(water_users), **kw)
