"""A forked process gets fresh pooled connections, never its parent's."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from runtime.data.db import forget_inherited_connections, make_engine


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_opens_its_own_connection(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fork.db'}")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        parent_handle = id(conn.connection.driver_connection)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got the parent's pooled connection back
        try:
            forget_inherited_connections()
            with engine.connect() as conn:
                same = id(conn.connection.driver_connection) == parent_handle
                ok = conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
            os.write(write, b"same" if same else b"fresh" if ok else b"broken")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"fresh"
    with engine.connect() as conn:  # the parent's pool still serves the parent
        assert id(conn.connection.driver_connection) == parent_handle
