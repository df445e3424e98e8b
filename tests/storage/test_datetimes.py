"""Datetimes come back aware and in UTC on every backend, and as ``...Z`` in JSON. On SQLite the
stored text is parsed in C (``fromisoformat``); text it does not take goes the dialect's way."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from runtime.data.db import UTCDateTime, make_engine
from runtime.data.values import to_json

UTC = dt.timezone.utc


def test_stored_text_in_every_shape_reads_back_as_utc(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    t.metadata.create_all(engine)
    moscow = dt.timezone(dt.timedelta(hours=3))
    with engine.begin() as c:
        c.execute(insert(t), [{"at": dt.datetime(2026, 12, 7, 22, 55, 1, 123456, tzinfo=moscow)}, {"at": None}])
        c.execute(text("INSERT INTO t (at) VALUES ('2026-12-07 10:00:00'), ('2026-12-07T10:00:00Z'), "
                       "('2026-12-07 10:00:00.5'), ('2026-12-07 13:00:00+03:00')"))
        got = c.execute(select(t.c.at).order_by(t.c.id)).scalars().all()
    assert got == [dt.datetime(2026, 12, 7, 19, 55, 1, 123456, tzinfo=UTC), None,
                   dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC), dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
                   dt.datetime(2026, 12, 7, 10, 0, 0, 500000, tzinfo=UTC), dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC)]
    assert all(v.utcoffset() == dt.timedelta(0) for v in got if v is not None)
    engine.dispose()


def test_json_gives_utc_with_z_whatever_the_zone():
    assert to_json(dt.datetime(2026, 12, 7, 10, 0, 0, 500000, tzinfo=UTC)) == "2026-12-07T10:00:00.500000Z"
    assert to_json(dt.datetime(2026, 12, 7, 10, 0, tzinfo=UTC)) == "2026-12-07T10:00:00Z"
    assert to_json(dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))) == "2026-12-07T10:00:00Z"
    assert to_json(dt.datetime(2026, 12, 7, 10, 0)) == "2026-12-07T10:00:00Z"
