"""Access guards: what a script may read, write and call.

RestrictedPython rewrites ``a.b`` to ``_getattr_(a, "b")`` and ``a.b = c``
to ``_write_(a).b = c``; the functions here decide. Reading refuses
private and introspection attributes and hands out checked versions of
methods that allocate (see :func:`guard_methods`); writing is allowed
only into plain dicts and lists and into types marked writable.
"""

from __future__ import annotations

import types

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .nesting import check_nesting, dict_items, dict_popitem
from .sizes import check_sequence
from .state import deny

#: Attributes no script may read, whatever the object. Anything starting
#: with ``_`` is refused as well. ``format``/``format_map`` walk attributes
#: from inside a string (CVE-2023-41039); the inspect attributes reach
#: frames and code (CVE-2023-37271); ``mro`` hands out ``object``.
DENIED_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES) | {
    "format",
    "format_map",
    "mro",
    "clear_cache",
}

#: ``type -> {method name: guarded function}``. Reading such a method
#: from an instance returns the guarded function bound to it; reading it
#: from the type returns the function itself.
METHOD_GUARDS = {}


def guard_methods(cls, **methods):
    """Register guarded replacements for methods of ``cls``."""
    METHOD_GUARDS.setdefault(cls, {}).update(methods)


#: ``type -> (method names, reader)`` for types whose attributes are data
#: (``record.priority``): see :func:`read_fields_as_attributes`.
FIELD_READERS = {}


def read_fields_as_attributes(cls, reader):
    """Read attributes of ``cls`` instances other than its public methods with
    ``reader(obj, name)``, which raises ``AttributeError`` for an unknown name.

    Such types answer through ``__getattr__``, which Python reaches only after
    the normal lookup has failed and built an ``AttributeError``; going straight
    to the reader makes a field read three times cheaper, and field reads are
    most of what a record hook does.
    """
    methods = frozenset(name for name in dir(cls) if name[:1] != "_")
    FIELD_READERS[cls] = (methods, reader)


def guarded_getattr(obj, name, *default):
    """``_getattr_`` and the ``getattr`` builtin."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name[:1] == "_" or name in DENIED_ATTRIBUTES:
        deny("attribute", f"access to attribute '{name}' is not allowed")
    kind = type(obj)
    fields = FIELD_READERS.get(kind)
    if fields is not None and name not in fields[0]:
        try:
            return fields[1](obj, name)
        except AttributeError:
            if default:
                return default[0]
            raise
    methods = METHOD_GUARDS.get(kind)
    if methods is not None:
        method = methods.get(name)
        if method is not None:
            return types.MethodType(method, obj)
    elif kind is type or kind is GuardedType:
        methods = METHOD_GUARDS.get(obj)
        if methods is not None and name in methods:
            return methods[name]
    elif isinstance(obj, BaseException):
        if name == "obj":
            # AttributeError.obj can be an object the script never had
            # (CVE-2024-47532).
            deny("attribute", "access to attribute 'obj' of exceptions is not allowed")
        if name == "args":
            return check_nesting(obj.args)
    return getattr(obj, name, *default)


def guarded_hasattr(obj, name):
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


#: Types whose instances decide themselves what a script may assign
#: (see :func:`mark_writable`).
WRITABLE_TYPES = set()


def mark_writable(cls):
    """Let scripts assign attributes and items of ``cls`` instances.

    The class must check each write itself, as ``RecordProxy`` does.
    Usable as a class decorator.
    """
    WRITABLE_TYPES.add(cls)
    return cls


class SequenceWriter:
    """What ``_write_`` hands out for lists and bytearrays.

    Item writes pass through; slice writes are checked, since
    ``x[:0] = x`` doubles a list without any ``+`` or ``*``.
    """

    __slots__ = ("_seq",)

    def __init__(self, seq):
        object.__setattr__(self, "_seq", seq)

    def __setitem__(self, key, value):
        seq = self._seq
        if type(key) is slice:
            if not hasattr(value, "__len__"):
                value = list(value)
            check_sequence(seq, len(seq) + len(value))
        seq[key] = value

    def __delitem__(self, key):
        del self._seq[key]

    def __setattr__(self, name, value):
        deny("write", f"cannot set attributes of '{type(self._seq).__name__}' objects")

    __delattr__ = __setattr__


def guarded_write(obj):
    """``_write_``: the object a script may assign into, or a refusal.

    Only plain dicts and lists (what scripts build) and types marked
    writable are accepted; modules, functions, records opened read-only
    and everything else are not.
    """
    kind = type(obj)
    if kind is dict:
        return obj
    if kind is list or kind is bytearray:
        return SequenceWriter(obj)
    if kind in WRITABLE_TYPES:
        return obj
    describe = getattr(kind, "_sandbox_describe_", None)
    deny("write", f"cannot modify {describe(obj) if describe else repr(kind.__name__) + ' objects'}")


def _check_attribute_name(name):
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name[:1] == "_" or name in DENIED_ATTRIBUTES:
        deny("attribute", f"access to attribute '{name}' is not allowed")


def guarded_setattr(obj, name, value):
    _check_attribute_name(name)
    setattr(guarded_write(obj), name, value)


def guarded_delattr(obj, name):
    _check_attribute_name(name)
    delattr(guarded_write(obj), name)


class GuardedType(type):
    """Metaclass for builtin types replaced by a checking constructor.

    ``isinstance`` and ``issubclass`` answer for the real type, so
    ``isinstance(x, bytes)`` keeps working; calling the class checks the
    arguments and returns an instance of the real type.
    """

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.__bases__[0])

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.__bases__[0])

    def __repr__(cls):
        return f"<class '{cls.__name__}'>"


guard_methods(dict, items=dict_items, popitem=dict_popitem)
