import datetime
import decimal

import pytest

from runtime import sandbox
from runtime.sandbox import ApiError, FrozenMap, RecordProxy


def test_record_proxy_reads_fields_and_freezes_nested_values():
    record = RecordProxy({"title": "x", "lines": [{"qty": 1}], "tags": {"a"}})
    assert record.title == record["title"] == "x"
    assert record.lines == ({"qty": 1},) and isinstance(record.lines[0], FrozenMap)
    assert record.get("missing", 5) == 5
    assert "title" in record and sorted(record) == ["lines", "tags", "title"]
    with pytest.raises(AttributeError, match="no field 'missing'"):
        record.missing


def test_record_proxy_with_known_fields():
    record = RecordProxy({"title": "x"}, writable=True, fields=["title", "due"])
    assert record.due is None and len(record) == 2
    with pytest.raises(AttributeError):
        record.other = 1
    record.due = datetime.date(2025, 1, 1)
    assert sandbox.record_changes(record) == {"due": datetime.date(2025, 1, 1)}
    assert sandbox.record_values(record) == {"title": "x", "due": datetime.date(2025, 1, 1)}


def test_record_proxy_does_not_change_the_callers_dict():
    values = {"status": "new"}
    record = RecordProxy(values, writable=True)
    record.status = "done"
    assert values == {"status": "new"} and record.status == "done"


def test_freeze():
    frozen = sandbox.freeze({"a": [1, {"b": {2}}], "c": (3,)})
    assert frozen == {"a": (1, {"b": frozenset({2})}), "c": (3,)}
    assert isinstance(frozen, FrozenMap) and isinstance(frozen["a"][1], FrozenMap)
    assert sandbox.freeze(frozen) is frozen
    copy = frozen.copy()
    copy["x"] = 1
    assert type(copy) is dict and "x" not in frozen
    with pytest.raises(TypeError):
        frozen["a"] = 1


def test_expose_hides_host_exceptions_unless_marked_safe():
    class NotFound(Exception):
        pass

    def lookup(key):
        if key == "db":
            raise RuntimeError("password=hunter2")
        raise NotFound(f"no contract {key}")

    plain = sandbox.expose(lookup)
    with pytest.raises(ApiError) as info:
        plain("db")
    assert str(info.value) == "lookup() failed" and isinstance(info.value.__cause__, RuntimeError)

    safe = sandbox.expose(lookup, "contract", errors=(NotFound,))
    with pytest.raises(ApiError, match="no contract 7"):
        safe(7)


def test_build_api():
    api = sandbox.build_api({"a": 1}, writable=True, tz="Europe/Moscow", send=print, settings={"x": [1]})
    assert set(api) == {"record", "now", "today", "money", "send", "settings"}
    assert api["record"].a == 1 and isinstance(api["settings"], FrozenMap)
    assert api["now"]().utcoffset() == datetime.timedelta(hours=3)
    assert api["now"]("UTC").utcoffset() == datetime.timedelta(0)
    with pytest.raises(ValueError, match="unknown time zone"):
        sandbox.build_api(tz="Mars/Olympus")
    with pytest.raises(ValueError):
        api["today"]("../../etc/passwd")


def test_money():
    assert sandbox.money("2.345") == decimal.Decimal("2.35")
    assert sandbox.money(2.675) == decimal.Decimal("2.68")  # from repr, not the binary float
    assert sandbox.money(10, places=0) == decimal.Decimal("10")
    with pytest.raises(ValueError):
        sandbox.money(1, places=99)


def test_dates_format_with_strftime_without_importing_time():
    from runtime.sandbox import build_api, compile_script, run
    script = compile_script("import datetime\ndef f():\n    d = datetime.datetime(2026, 6, 11, 17, 30)\n"
                            "    return d.strftime('%d.%m.%Y %H:%M') + ' ' + d.date().strftime('%Y')\n", "fmt.py")
    assert run(script, "f", api=build_api(None)) == "11.06.2026 17:30 2026"
