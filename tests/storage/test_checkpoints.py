"""The write-ahead log of a SQLite database is checkpointed off the writer's time."""
from __future__ import annotations

import os
import time

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select

from runtime.data.db import _WAL_LIMIT, make_engine


def log_table(tmp_path, name: str):
    """An engine on a new SQLite file with one table of text rows, the table and the log's path."""
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("body", Text))
    t.metadata.create_all(engine)
    return engine, t, f"{tmp_path / name}-wal"


def test_writers_leave_checkpoints_to_a_thread_that_keeps_the_log_short(tmp_path):
    engine, t, wal = log_table(tmp_path, "big.db")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0   # no writer checkpoints
    for chunk in range(40):   # 40 commits of about 1 MB each: 40 MB of log without checkpoints
        with engine.begin() as c:
            c.execute(insert(t), [{"body": f"{chunk}-{i}-" + "x" * 1000} for i in range(1000)])
        time.sleep(0.01)
    deadline, tails = time.monotonic() + 30, 0
    while os.stat(wal).st_size > _WAL_LIMIT and time.monotonic() < deadline:
        with engine.begin() as c:   # a writer's BEGIN asks for a checkpoint; the restart cuts the log
            c.execute(insert(t), [{"body": "tail"}])
        tails += 1
        time.sleep(0.05)
    # how far behind the thread falls (and so how many tails it takes) depends on the machine's
    # load; that it catches up does not
    assert os.stat(wal).st_size <= _WAL_LIMIT
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t)).scalar() == 40 * 1000 + tails
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()


def test_a_database_deleted_before_its_checkpoint_is_not_made_again(tmp_path):
    from runtime.data.db import _checkpoints
    gone = tmp_path / "gone.db"
    _checkpoints._checkpoint(f"{gone}-wal")
    assert not gone.exists()


def test_a_writer_checkpoints_itself_when_the_thread_cannot_keep_up(tmp_path, monkeypatch):
    from runtime.data import db
    monkeypatch.setattr(db._checkpoints, "_checkpoint", lambda wal: None)   # the thread never gets to it
    monkeypatch.setattr(db, "_WAL_MOST", 8 * 1024 * 1024)
    engine, t, wal = log_table(tmp_path, "busy.db")
    biggest = 0
    for chunk in range(30):   # 30 MB without a pause
        with engine.begin() as c:
            c.execute(insert(t), [{"body": f"{chunk}-{i}-" + "x" * 1000} for i in range(1000)])
        biggest = max(biggest, os.stat(wal).st_size)
    assert db._WAL_LIMIT < biggest < 8 * 1024 * 1024 + 3 * 1024 * 1024, biggest
    engine.dispose()


def test_writers_that_never_pause_still_start_the_log_over(tmp_path):
    """The thread's checkpoint never catches up with a writer that keeps writing; the first writer
    after it copies back the rest, so its write starts the log over. Without that the log grew
    until the writer's own checkpoint at 64 times the threshold, and a long log slows every
    statement: a record's INSERT took two and a half times as long."""
    engine, t, wal = log_table(tmp_path, "busy.db")
    biggest = 0
    for chunk in range(80):   # 80 MB without a pause
        with engine.begin() as c:
            c.execute(insert(t), [{"body": f"{chunk}-{i}-" + "x" * 1000} for i in range(1000)])
        biggest = max(biggest, os.stat(wal).st_size)
    # how far the log runs ahead of the thread depends on the machine's load; a log that never
    # started over would be about 80 MB
    assert biggest < 40 * 1024 * 1024, biggest
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t)).scalar() == 80 * 1000
    engine.dispose()
