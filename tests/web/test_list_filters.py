"""The water-user list's permit filters judge each file by its latest live permit, and every
page of the list shows its files with that permit's end (issue 10: written for 100,000 files)."""
from __future__ import annotations

from datetime import timedelta

from registry.clock import today as bureau_today
from registry.extensions import db
from tests import factories as f

TODAY = bureau_today()


def _names(client, query: str) -> str:
    return client.get(f"/water-users/?{query}").get_data(as_text=True)


def _file(name, *ends, revoked=()):
    wu = f.WaterUserFactory(name=name)
    for i, end in enumerate(ends):
        f.PermitFactory(water_user=wu, number=f"D330782G2020-{wu.id % 100:02d}{i:02d}", valid_to=end,
                        revoked_on=TODAY - timedelta(days=1) if end in revoked else None)
    return wu


def test_renewal_due_expired_and_no_permit_follow_the_latest_live_permit(client, auth):
    soon, later, past = TODAY + timedelta(days=20), TODAY + timedelta(days=800), TODAY - timedelta(days=30)
    expiring = _file("义乌市将到期印染有限公司", past, soon)
    renewed = _file("义乌市已延续纸业有限公司", soon, later)  # an old permit ends soon, its renewal much later
    expired = _file("义乌市已过期化工有限公司", past)
    revoked_only = _file("义乌市被吊销饰品有限公司", later, revoked=(later,))
    none = _file("义乌市无许可服饰有限公司")
    f.admin(username="admin")
    auth.login("admin")

    due = _names(client, "due=permit_expiring")
    assert expiring.name in due and renewed.name not in due and expired.name not in due
    gone = _names(client, "due=permit_expired")
    assert expired.name in gone and expiring.name not in gone and renewed.name not in gone
    missing = _names(client, "due=no_permit")
    assert none.name in missing and revoked_only.name in missing and expired.name not in missing
    assert renewed.name not in missing


def test_every_page_shows_its_files_with_their_permit_end(client, auth, app):
    app.config["PER_PAGE"] = 2
    files = [_file(f"义乌市第{i}号纺织有限公司", TODAY + timedelta(days=100 + i)) for i in range(5)]
    f.admin(username="admin")
    auth.login("admin")
    shown = []
    for page in (1, 2, 3):
        body = _names(client, f"page={page}")
        on_page = [wu for wu in files if wu.name in body]
        assert len(on_page) == (2 if page < 3 else 1)
        for wu in on_page:
            assert (TODAY + timedelta(days=100 + files.index(wu))).isoformat() in body
        shown += on_page
    assert sorted(w.file_no for w in shown) == sorted(w.file_no for w in files)
    assert [w.file_no for w in shown] == sorted(w.file_no for w in shown)  # list order across pages
    last = _names(client, "page=99")  # beyond the end: the last page
    assert files[-1].name in last or sorted(files, key=lambda w: w.file_no)[-1].name in last
    db.session.rollback()


def test_search_finds_chinese_names_in_any_case_of_latin_codes(client, auth):
    a = _file("义乌市青岩饰品有限公司", TODAY + timedelta(days=400))
    b = _file("义乌市ABC服饰有限公司", TODAY + timedelta(days=400))
    f.admin(username="admin")
    auth.login("admin")
    assert a.name in _names(client, "q=饰品") and b.name not in _names(client, "q=饰品")
    assert b.name in _names(client, "q=abc服饰") and b.name in _names(client, "q=ABC")
    assert a.name in _names(client, f"q={a.file_no.lower()}") and b.name not in _names(client, f"q={a.file_no.lower()}")
    assert a.name in _names(client, f"q={a.uscc.lower()}")


def test_a_page_is_the_same_whether_the_matches_are_few_or_many(app):
    """The list reads up to ``few`` keys first and pages them alone when that is all of them;
    beyond it, it counts and pages in the database: both give the same pages and total."""
    from types import SimpleNamespace

    from registry.models import WaterUser
    from registry.services.file_view import ListFilters, water_user_list, water_user_rows
    from registry.presentation import paging

    files = [_file(f"义乌市第{i}号饰品有限公司", TODAY + timedelta(days=100 + i)) for i in range(7)]
    _file("义乌市另一家纺织有限公司", TODAY + timedelta(days=50))
    admin = SimpleNamespace(is_authenticated=True, role="bureau_admin", id=None, city_wide=False)
    keys = water_user_list(db.session, admin, ListFilters(q="饰品")).with_only_columns(WaterUser.id)
    for page in (1, 2, 3, 4, 99):
        pages = [paging.paginate_keys(db.session, keys, lambda ids: water_user_rows(db.session, ids),
                                      page=page, per_page=3, few=few) for few in (2, 7, 1000)]
        assert len({p.total for p in pages}) == 1 and pages[0].total == len(files)
        assert len({p.page for p in pages}) == 1
        assert [[wu.file_no for wu, _ in p.items] for p in pages] == [[wu.file_no for wu, _ in pages[0].items]] * 3
    nothing = water_user_list(db.session, admin, ListFilters(q="没有这家")).with_only_columns(WaterUser.id)
    empty = paging.paginate_keys(db.session, nothing, lambda ids: water_user_rows(db.session, ids), page=2, per_page=3)
    assert (empty.total, empty.page, empty.items) == (0, 1, [])
