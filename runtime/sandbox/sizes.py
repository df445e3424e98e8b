"""Size checks shared by the guards.

Formatting, repetition and concatenation run in C and cannot be
interrupted once started, so their result size is checked before they
run. The checks read the limits of the current run, but only for sizes
above ``SMALL``, which ``Limits`` guarantees is below every limit: almost
every call returns without touching the run state.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping

from .state import checkpoint, current, exceed

#: Operands below this size never need a look at the limits: ``Limits``
#: guarantees every size limit is at least this large.
SMALL = 1024
#: Integers below this size never need a look at ``max_int_bits``.
SMALL_INT = 1 << 62


def check_text_size(size, what="string"):
    if size > SMALL:
        limit = current().limits.max_string
        if size > limit:
            exceed("memory", f"{what} of {size} characters exceeds the limit of {limit}")


def check_items(size, what="list"):
    if size > SMALL:
        limit = current().limits.max_items
        if size > limit:
            exceed("memory", f"{what} of {size} items exceeds the limit of {limit}")


def check_bits(bits):
    limit = current().limits.max_int_bits
    if bits > limit:
        exceed("memory", f"integer of about {bits} bits exceeds the limit of {limit}")


SEQUENCES = (list, tuple)


def check_sequence(seq, size):
    """Check ``size`` against the limit for the kind of ``seq``."""
    if type(seq) in SEQUENCES:
        check_items(size, type(seq).__name__)
    else:
        check_text_size(size, type(seq).__name__)


#: Containers the size estimate should look into, beyond the builtins:
#: ``type -> function returning the contained values``.
CONTAINERS = {}


def register_container(cls, children):
    """Let :func:`size_hint` see inside instances of ``cls``."""
    CONTAINERS[cls] = children


def size_hint(obj, limits=None):
    """Estimate ``len(str(obj))`` and stop the script if it is too large.

    Formatting a container runs in C and cannot be interrupted, and a
    structure of shared references (``x = [x, x]`` in a loop) prints
    exponentially larger than it is. The walk visits each reference, so
    such a structure runs into the item limit long before it is printed.
    """
    limits = limits or current().limits
    max_size = limits.max_string
    max_nodes = limits.max_items
    size = 0
    nodes = 1  # values pushed on the stack so far
    stack = [obj]
    while stack and size <= max_size and nodes <= max_nodes:
        value = stack.pop()
        kind = type(value)
        if kind is str or kind is bytes or kind is bytearray:
            size += len(value) + 3
        elif kind is int:
            size += value.bit_length() // 3 + 2
        elif kind in SEQUENCES or kind is set or kind is frozenset:
            size += 2 + 2 * len(value)
            nodes += len(value)
            if nodes <= max_nodes:
                stack.extend(value)
        elif kind is dict or isinstance(value, Mapping):
            size += 2 + 4 * len(value)
            nodes += 2 * len(value)
            if nodes <= max_nodes:
                stack.extend(value.keys())
                stack.extend(value.values())
        elif kind in CONTAINERS:
            nodes += 1
            stack.append(CONTAINERS[kind](value))
        elif kind is decimal.Decimal:
            sign, digits, exponent = value.as_tuple()
            size += len(digits) + (abs(exponent) if type(exponent) is int else 3) + 4
        else:
            size += 64
    if nodes > max_nodes:
        exceed("memory", f"value too large to format: more than {max_nodes} items")
    if size > max_size:
        exceed("memory", f"formatted value of about {size} characters exceeds the limit of {max_size}")
    return size


#: Types whose text never holds an object's default repr.
FLAT = frozenset({str, int, float, bool, type(None), decimal.Decimal, bytes})

#: ``<function f at 0x7f...>``: the address in a default repr tells a script
#: where the host keeps its objects, which is nobody's business.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")


def scrub(text):
    """``text`` without the memory addresses of default reprs."""
    if "0x" in text:
        return _ADDRESS.sub("", text)
    return text


def to_text(obj, limits=None, convert=str):
    """``convert(obj)`` (``str``, ``repr``, ``ascii``) after making sure the result is of
    reasonable size, without memory addresses."""
    kind = type(obj)
    if kind is str and convert is str:
        return obj
    size = size_hint(obj, limits)
    text = convert(obj)
    if kind not in FLAT:
        text = scrub(text)
        if size > SMALL:
            checkpoint(size // SMALL)
    return text
