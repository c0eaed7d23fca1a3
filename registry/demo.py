"""Realistic synthetic registry for demonstrations and benchmarks (``registry demo-data``).

Deterministic for a given seed and day: dates are placed relative to today so that every run
shows the situations the bureau meets (permits near expiry and expired, overdue calibrations,
missing readings, overdue balance tests and rectifications). Rows go in with bulk INSERTs,
chunk by chunk, so 100,000 water users take minutes, not hours.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from registry.bulk import copy_rows
from registry.domain.calibration import PERIODIC, verification_class
from registry.domain.dates import add_months, add_years, month_start
from registry.domain.reference import DIVISIONS, INDUSTRIES
from registry.domain.uscc import make_uscc
from registry.models import (AnnualPlan, AuditEvent, BalanceTest, Calibration, ChecklistItem, Inspection,
                             IntakePoint, Meter, NameBigram, Permit, Reading, Rectification, WaterUser,
                             permit_intake_points)
from registry.models.cached import name_bigram_rows, refresh_permit_valid_to
from registry.services import rules_versions
from registry.services.validators import CHECKLIST_CODES

BRANDS = ("华鑫", "恒达", "新光", "浙中", "金鼎", "佛堂", "稠江", "宏图", "永盛", "天成", "鸿运", "绿源", "青岩",
          "双江", "凯旋", "东方", "联谊", "瑞丰", "明珠", "九龙", "海纳", "正泰", "铭洋", "汇丰", "嘉禾", "锦华")
FIRST = "王李张刘陈杨黄吴赵周徐孙马朱胡郭何林楼金"
GIVEN = ("建国", "海燕", "志强", "丽华", "伟", "晓东", "秀英", "国平", "春生", "美玲", "小军", "文斌")
WATER_BODIES = ("义乌江", "南江", "大陈江", "洪巡溪", "铜溪", "吴溪", "岩口水库", "八都水库", "柏峰水库")
AQUIFERS = ("第四系孔隙潜水", "基岩裂隙水", "红层孔隙裂隙水")
AGENCIES = ("义乌市计量检定测试所", "金华市质量技术监督检测院", "浙江省计量科学研究院")
TEST_AGENCIES = ("浙江省水利水电勘测设计院", "金华市水文站", "浙江节水技术服务中心")
INDUSTRY_WORDS = {"thermal_power": "热电", "chemicals": "化工", "printing_dyeing": "印染", "papermaking": "纸业"}
OTHER_WORDS = ("饮品", "服饰", "饰品", "塑业", "五金", "金属制品", "水务", "园林")

DEMO_ACCOUNTS = (
    ("demo-admin", "bureau_admin"),
    ("demo-inspector", "inspector"),
    ("demo-enterprise", "enterprise"),
    ("demo-enterprise2", "enterprise"),
)


@dataclass
class Counts:
    water_users: int = 0
    rows: dict = field(default_factory=dict)

    def add(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


class Generator:
    def __init__(self, seed: int, today: date, start_index: int = 0, serials: dict | None = None,
                 usccs: set[str] | None = None):
        self.rng = random.Random(seed)
        self.today = today
        self.index = start_index
        # Permit serials run per source and year of issue (D330782S2021-0120).
        self.serials: dict[tuple[str, int], int] = serials or {}
        self.names: set[str] = set()
        # Codes are unique: 10⁸ random bodies repeat within a few thousand files (birthday bound).
        self.usccs: set[str] = usccs or set()

    # --- one water user, as plain rows -------------------------------------------------------
    def water_user(self) -> dict:
        rng, i = self.rng, self.index
        self.index += 1
        division = DIVISIONS[i % len(DIVISIONS)] if i < len(DIVISIONS) else rng.choice(DIVISIONS)
        industry = rng.choice(INDUSTRIES[:10]) if rng.random() < 0.35 else rng.choice(INDUSTRIES[10:])
        word = INDUSTRY_WORDS.get(industry.category) or rng.choice(OTHER_WORDS)
        opened = date(rng.randint(2012, self.today.year - 1), rng.randint(1, 12), rng.randint(1, 28))
        name = f"义乌市{rng.choice(BRANDS)}{word}有限公司"
        if name in self.names:  # a real registry has no two companies of the same name
            name = f"义乌市{division.name_zh}{rng.choice(BRANDS)}{word}有限公司"
        if name in self.names:
            name = name.replace("有限公司", f"{i + 1}厂有限公司")
        self.names.add(name)
        uscc = make_uscc(rng)
        while uscc in self.usccs:
            uscc = make_uscc(rng)
        self.usccs.add(uscc)
        return {
            "file_no": f"YW-{i + 1:06d}",
            "name": name,
            "uscc": uscc,
            "legal_representative": rng.choice(FIRST) + rng.choice(GIVEN),
            "contact_name": rng.choice(FIRST) + rng.choice(GIVEN),
            "contact_phone": f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
            "email": f"water{i + 1}@example.cn" if rng.random() < 0.7 else None,
            "address": f"浙江省义乌市{division.full_name_zh}{rng.choice(BRANDS)}路{rng.randint(1, 999)}号",
            "division_code": division.code,
            "industry_code": industry.code,
            "opened_on": opened,
            "status": "active" if rng.random() < 0.96 else "suspended",
        }

    def intake_points(self, wu_id: int) -> list[dict]:
        rng = self.rng
        rows = []
        for n in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
            ground = rng.random() < 0.4
            rows.append({
                "water_user_id": wu_id, "name": f"{n + 1}号取水口", "source": "ground" if ground else "surface",
                "water_body": rng.choice(AQUIFERS if ground else WATER_BODIES),
                "longitude": round(rng.uniform(119.85, 120.35), 6), "latitude": round(rng.uniform(29.05, 29.55), 6),
                "intake_method": "深井泵" if ground else rng.choice(("泵站提水", "自流引水")),
                "design_capacity_m3h": float(rng.choice((10, 20, 50, 80, 120, 200))),
            })
        return rows

    def permits(self, wu: dict, wu_id: int) -> list[dict]:
        """One current permit in a situation drawn at random; a third have an older, renewed one."""
        rng, today = self.rng, self.today
        situation = rng.random()
        if situation < 0.10:
            valid_to = today + timedelta(days=rng.randint(1, 44))  # renewal due
        elif situation < 0.18:
            valid_to = today - timedelta(days=rng.randint(1, 400))  # expired
        else:
            valid_to = today + timedelta(days=rng.randint(60, 1700))
        valid_from = add_years(valid_to, -5) + timedelta(days=1)
        volume = float(rng.choice((2000, 5000, 8000, 12000, 30000, 60000, 150000, 400000)))
        source = "S" if rng.random() < 0.6 else "G"
        rows = []
        if rng.random() < 0.33 and valid_from.year > 2012:
            rows.append(self._permit(wu_id, add_years(valid_from, -5), valid_from - timedelta(days=1), volume, source))
        current = self._permit(wu_id, valid_from, valid_to, volume, source)
        if situation < 0.10 and rng.random() < 0.4:
            current["renewal_applied_on"] = today - timedelta(days=rng.randint(0, 20))
        rows.append(current)
        return rows

    def _permit(self, wu_id, valid_from, valid_to, volume, source) -> dict:
        issued = valid_from - timedelta(days=self.rng.randint(5, 40))
        serial = self.serials[(source, issued.year)] = self.serials.get((source, issued.year), 0) + 1
        return {"water_user_id": wu_id, "number": f"D330782{source}{issued.year}-{serial:04d}",
                "issuing_authority": "义乌市水务局", "issued_on": issued, "valid_from": valid_from,
                "valid_to": valid_to, "annual_volume_m3": volume, "purpose": self.rng.choice(("工业生产", "冷却", "生活及生产"))}

    def meter(self, wu_id: int, point_id: int) -> dict:
        rng = self.rng
        kind = rng.choice(("mechanical", "mechanical", "electromagnetic", "ultrasonic"))
        dn = rng.choice((20, 25, 40, 50)) if kind == "mechanical" else rng.choice((80, 100, 150, 200))
        installed = self.today - timedelta(days=rng.randint(200, 2600))
        return {"water_user_id": wu_id, "intake_point_id": point_id, "serial": f"SB{point_id:08d}",
                "meter_type": kind, "manufacturer": rng.choice(("宁波水表", "杭州竞达", "上海光华", "开封仪表")),
                "dn": dn, "q3": {20: 4.0, 25: 6.3, 40: 16.0, 50: 25.0}.get(dn, float(dn)), "accuracy_class": "2",
                "installed_on": installed,
                "telemetry_id": f"YWT{point_id:08d}" if rng.random() < 0.5 else None}

    def calibrations(self, meter_id: int, meter: dict, rules) -> list[dict]:
        """Verification history every 24 months from installation; some meters are left overdue.

        Small mechanical meters (JJG 162-2019) have only their initial verification: they are
        replaced at the end of their service life instead.
        """
        rng = self.rng
        rows, day = [], meter["installed_on"] - timedelta(days=rng.randint(3, 30))
        if verification_class(meter["meter_type"], meter["dn"], meter["q3"], rules) != PERIODIC:
            return [{"meter_id": meter_id, "calibrated_on": day, "kind": "initial", "agency": rng.choice(AGENCIES),
                     "certificate_no": f"JD{day:%Y}{rng.randint(10000, 99999)}", "error_pct": round(rng.uniform(-1.8, 1.8), 2),
                     "passed": True, "next_due_on": None}]
        overdue = rng.random() < 0.15
        while True:
            next_due = add_months(day, 24)
            rows.append({"meter_id": meter_id, "calibrated_on": day, "kind": "initial" if not rows else "subsequent",
                         "agency": rng.choice(AGENCIES), "certificate_no": f"JD{day:%Y}{rng.randint(10000, 99999)}",
                         "error_pct": round(rng.uniform(-1.8, 1.8), 2), "passed": True,
                         "next_due_on": None})  # computed from the rules in force, never frozen
            if next_due > self.today or (overdue and next_due > self.today - timedelta(days=200)):
                return rows
            day = next_due + timedelta(days=rng.randint(-20, 10))

    def readings(self, wu_id: int, meter_id: int, meter: dict, monthly_m3: float) -> list[dict]:
        rng = self.rng
        rows = []
        missing_recent = rng.random() < 0.2
        month = month_start(add_months(self.today, -18))
        last = add_months(month_start(self.today), -1)
        while month <= last:
            if month >= month_start(meter["installed_on"]) and not (missing_recent and month > add_months(last, -2)):
                if rng.random() > 0.03:
                    rows.append({"water_user_id": wu_id, "meter_id": meter_id, "period": month,
                                 "volume_m3": round(monthly_m3 * rng.uniform(0.6, 1.3), 1),
                                 "source": "online" if meter["telemetry_id"] else rng.choice(("manual", "enterprise")),
                                 "status": "accepted", "submitted_on": add_months(month, 1) + timedelta(days=rng.randint(0, 14))})
            month = add_months(month, 1)
        return rows

    def online_days(self, wu_id: int, meter_id: int, meter: dict, monthly_m3: float) -> list[dict]:
        """Daily telemetry of an online meter over the last 100 days, with the gaps real links have."""
        rng = self.rng
        if not meter["telemetry_id"]:
            return []
        reliability = rng.choice((0.99, 0.97, 0.9, 0.7))
        rows = []
        for back in range(1, 101):
            day = self.today - timedelta(days=back)
            if day >= meter["installed_on"] and rng.random() < reliability:
                rows.append({"water_user_id": wu_id, "meter_id": meter_id, "period": month_start(day), "read_on": day,
                             "volume_m3": round(monthly_m3 / 30 * rng.uniform(0.7, 1.3), 1), "source": "online",
                             "status": "accepted", "submitted_on": day})
        return rows

    def balance_tests(self, wu_id: int, wu: dict) -> list[dict]:
        rng = self.rng
        if rng.random() < 0.25:
            return []  # never tested: due 12 months after the file was opened
        tested = self.today - timedelta(days=rng.randint(100, 2300))
        vf = float(rng.randint(5000, 400000))
        vr = round(vf * rng.uniform(0.1, 2.5))
        vl = round(vf * rng.uniform(0.005, 0.06))
        vco = round(vf * rng.uniform(0.1, 0.3))
        vd = round((vf - vl - vco) * rng.uniform(0.97, 1.04))
        return [{"water_user_id": wu_id, "tested_on": tested, "agency": rng.choice(TEST_AGENCIES),
                 "report_no": f"SPH{tested:%Y}-{rng.randint(100, 999)}", "vf": vf, "vr": float(vr),
                 "vco": float(vco), "vd": float(max(vd, 0)), "vl": float(vl), "next_due_on": add_years(tested, 5)}]


def seed_accounts(session: Session, password: str, first_file_nos: list[str]) -> list[tuple[str, str]]:
    """The demo accounts of spec.md; existing ones are left as they are."""
    from registry.models import Account
    from registry.services.accounts import create_account

    made = []
    for username, role in DEMO_ACCOUNTS:
        if session.execute(select(Account.id).where(Account.username == username)).first():
            continue
        files = {"demo-enterprise": first_file_nos[:1], "demo-enterprise2": first_file_nos[1:2]}.get(username, [])
        if role == "enterprise" and not files:
            continue
        create_account(session, None, username=username, role=role, password=password, file_numbers=files,
                       city_wide=role == "inspector", display_name={"demo-admin": "水务局管理员", "demo-inspector": "检查员 楼建国",
                                                                    "demo-enterprise": "企业用户", "demo-enterprise2": "企业用户二"}[username],
                       must_change_password=False, demo_password=True)
        made.append((username, role))
    return made


class _Ids:
    """Ids handed out here, so bulk INSERTs need no RETURNING (slow for large batches on SQLite)."""

    def __init__(self, session: Session):
        self.session = session
        self.next: dict[str, int] = {}

    def take(self, table, n: int) -> list[int]:
        name = table.name
        if name not in self.next:
            self.next[name] = (self.session.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        first = self.next[name]
        self.next[name] += n
        return list(range(first, first + n))

    def sync_sequences(self) -> None:
        """PostgreSQL: move each identity sequence past the ids we chose."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for name, nxt in self.next.items():
            self.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :v, false)"), {"v": nxt})


def _insert(session: Session, model, rows: list[dict], counts: Counts, ids: _Ids) -> list[int]:
    if not rows:
        return []
    table = getattr(model, "__table__", model)
    counts.add(table.name, len(rows))
    new_ids: list[int] = []
    if "id" in table.c:
        new_ids = ids.take(table, len(rows))
        for row, new_id in zip(rows, new_ids):
            row["id"] = new_id
    # Every row gets the same keys (a key missing from some rows means NULL there).
    keys = set().union(*rows)
    for row in rows:
        for key in keys - row.keys():
            row[key] = None
    copy_rows(session, table, rows)
    return new_ids


def generate(session: Session, *, users: int, seed: int, today: date, chunk: int = 500, progress=None) -> Counts:
    """Insert ``users`` water users with their whole files, ``chunk`` at a time (one commit each)."""
    start = session.execute(select(func.count()).select_from(WaterUser)).scalar_one()
    serials: dict[tuple[str, int], int] = {}
    for number in session.scalars(select(Permit.number)):
        key = (number[7], int(number[8:12]))
        serials[key] = max(serials.get(key, 0), int(number[13:]))
    gen = Generator(seed, today, start_index=start, serials=serials,
                    usccs=set(session.scalars(select(WaterUser.uscc))))
    counts = Counts()
    ids = _Ids(session)
    done = 0
    while done < users:
        n = min(chunk, users - done)
        _chunk(session, gen, n, counts, ids)
        ids.sync_sequences()
        session.commit()
        done += n
        counts.water_users = done
        if progress:
            progress(n)
    return counts


def _chunk(session: Session, gen: Generator, n: int, counts: Counts, ids: _Ids) -> None:
    rng, today = gen.rng, gen.today
    rules = rules_versions.current(session)  # the rules in force, as the app judges them
    wus = [gen.water_user() for _ in range(n)]
    wu_ids = _insert(session, WaterUser, wus, counts, ids)
    _insert(session, NameBigram, [row for wu, wu_id in zip(wus, wu_ids) for row in name_bigram_rows(wu_id, wu["name"])],
            counts, ids)
    points, permits, plans, tests = [], [], [], []
    owners = []
    for wu, wu_id in zip(wus, wu_ids):
        wu_points = gen.intake_points(wu_id)
        points += wu_points
        owners.append(len(wu_points))
        wu_permits = gen.permits(wu, wu_id)
        permits += wu_permits
        volume = wu_permits[-1]["annual_volume_m3"]
        if volume >= 3000 and rng.random() < 0.85:
            plans.append({"water_user_id": wu_id, "year": today.year, "approved_on": date(today.year, 1, rng.randint(5, 28)),
                          "planned_volume_m3": round(volume * rng.uniform(0.6, 0.95))})
        if any(i.code == wu["industry_code"] and i.high_water_use for i in INDUSTRIES):
            tests += gen.balance_tests(wu_id, wu)
    point_ids = _insert(session, IntakePoint, points, counts, ids)
    permit_ids = _insert(session, Permit, permits, counts, ids)
    _insert(session, AnnualPlan, plans, counts, ids)
    _insert(session, BalanceTest, tests, counts, ids)

    # Permits cover the user's intake points; a renewal supersedes the permit before it.
    point_of_user, k = {}, 0
    for wu_id, count in zip(wu_ids, owners):
        point_of_user[wu_id] = point_ids[k:k + count]
        k += count
    links, renewals, previous = [], [], {}
    for permit, pid in zip(permits, permit_ids):
        wu_id = permit["water_user_id"]
        covered = point_of_user[wu_id] if rng.random() < 0.93 else point_of_user[wu_id][:-1] or point_of_user[wu_id]
        links += [{"permit_id": pid, "intake_point_id": p} for p in covered]
        if wu_id in previous:
            renewals.append((pid, previous[wu_id]))
        previous[wu_id] = pid
    _insert(session, permit_intake_points, links, counts, ids)
    if renewals:
        permits_table = Permit.__table__
        session.execute(permits_table.update().where(permits_table.c.id == bindparam("pid"))
                        .values(renews_id=bindparam("old")), [{"pid": pid, "old": old} for pid, old in renewals])
    refresh_permit_valid_to(session, wu_ids)  # inserted in bulk, past the ORM flush that keeps the copy

    meters, meter_owner = [], []
    volume_of = {p["water_user_id"]: p["annual_volume_m3"] for p in permits}
    for wu_id, pids in point_of_user.items():
        for point_id in pids:
            if rng.random() < 0.95:
                meters.append(gen.meter(wu_id, point_id))
                meter_owner.append((wu_id, len(pids)))
    meter_ids = _insert(session, Meter, meters, counts, ids)
    cals, reads = [], []
    for meter, meter_id, (wu_id, n_points) in zip(meters, meter_ids, meter_owner):
        cals += gen.calibrations(meter_id, meter, rules)
        monthly = volume_of[wu_id] / 12 / n_points * 0.85
        reads += gen.readings(wu_id, meter_id, meter, monthly)
        reads += gen.online_days(wu_id, meter_id, meter, monthly)
    _insert(session, Calibration, cals, counts, ids)
    _insert(session, Reading, reads, counts, ids)

    inspections, problem_flags = [], []
    for wu_id in wu_ids:
        if rng.random() < 0.6:
            inspections.append({"water_user_id": wu_id, "inspected_on": today - timedelta(days=rng.randint(5, 700)),
                                "findings": None, "site_contact": rng.choice(FIRST) + rng.choice(GIVEN)})
            problem_flags.append(rng.random() < 0.3)
    insp_ids = _insert(session, Inspection, inspections, counts, ids)
    items, rects = [], []
    for insp, insp_id, problem in zip(inspections, insp_ids, problem_flags):
        bad = rng.choice(CHECKLIST_CODES) if problem else None
        for pos, code in enumerate(CHECKLIST_CODES):
            result = "problem" if code == bad else ("na" if code == "online_device_working" and rng.random() < 0.3 else "ok")
            items.append({"inspection_id": insp_id, "position": pos, "code": code, "result": result,
                          "note": "现场发现问题，需整改" if result == "problem" else None})
        if problem:
            deadline = insp["inspected_on"] + timedelta(days=30)
            status = "verified" if deadline < today and rng.random() < 0.6 else "open"
            rects.append({"inspection_id": insp_id, "water_user_id": insp["water_user_id"],
                          "requirement": "限期整改：" + bad.replace("_", " "), "deadline": deadline, "status": status,
                          "verified_on": deadline - timedelta(days=3) if status == "verified" else None})
    _insert(session, ChecklistItem, items, counts, ids)
    _insert(session, Rectification, rects, counts, ids)
    _insert(session, AuditEvent, [{"action": "create", "entity_type": "WaterUser", "entity_id": wu_id,
                                   "water_user_id": wu_id, "summary": f"demo data: {wu['file_no']} {wu['name']}",
                                   "changes": {}} for wu, wu_id in zip(wus, wu_ids)], counts, ids)


def telemetry_feeds(session: Session, actor, today: date, *, meters: int = 12, days: int = 30, seed: int = 2026) -> int:
    """Hourly totalizer points of a few online meters over the last ``days``, sent through the
    same intake as a gateway's (``services.telemetry.ingest``), with the faults real feeds have:
    the first meter silent for 3 days, the second flat for 80 hours, the third rolling over
    (register of 100,000 m³), the fourth a spike of a day's use 20 times the usual. Answers the
    points stored."""
    import random
    from datetime import datetime, time as dtime

    from registry import clock
    from registry.services import telemetry

    rng = random.Random(seed)
    chosen = session.scalars(select(Meter).where(Meter.telemetry_id.is_not(None), Meter.removed_on.is_(None),
                                                 Meter.closed_at.is_(None),
                                                 Meter.installed_on <= today - timedelta(days=days + 1))
                             .order_by(Meter.id).limit(meters)).all()
    zone = clock.zone()
    start = datetime.combine(today - timedelta(days=days), dtime(0), tzinfo=zone)
    stored = 0
    for n, meter in enumerate(chosen):
        total = 99_000.0 if n == 2 else float(rng.randint(10_000, 500_000))
        if n == 2:
            meter.register_capacity_m3 = 100_000.0
            session.commit()
        hourly = rng.uniform(1.0, 12.0)
        points = []
        for h in range(days * 24):
            at = start + timedelta(hours=h)
            if n == 0 and 10 * 24 <= h < 13 * 24:
                continue  # a gap of 3 days
            if not (n == 1 and 15 * 24 <= h < 15 * 24 + 80):  # a flat line of 80 hours
                step = hourly * rng.uniform(0.5, 1.5) * (20 if n == 3 and 20 * 24 <= h < 21 * 24 else 1)
                total += step
                if n == 2 and total >= 100_000.0:
                    total -= 100_000.0  # the register rolls over
            points.append({"telemetry_id": meter.telemetry_id, "at": at.isoformat(), "totalizer_m3": round(total, 2)})
        stored += telemetry.ingest(session, actor, points, channel_source="demo").created
    return stored
