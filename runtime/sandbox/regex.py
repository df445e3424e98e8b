"""The ``re`` module of scripts, on RE2: matching in time linear in the input.

Python's own engine backtracks, in C, holding the interpreter: a pattern such
as ``(a|a)+$`` on 30 characters runs for minutes and every other request of
the process waits. No check of the pattern catches every such case, so
scripts match with RE2 (``google-re2``), which never backtracks. See
``docs/decisions/0021-sandbox-limits-that-hold.md``.

The API is the one scripts know (``re.search``, ``re.sub``, ``re.compile``,
flags ``re.I``/``re.M``/``re.S``/``re.A``), with Python's meaning of ``\\w``,
``\\d`` and ``\\s`` (Unicode, so Cyrillic letters are word characters). What
RE2 cannot do (backreferences, lookaround, ``re.X``) is refused with a clear
script error when the pattern is compiled.
"""

from __future__ import annotations

import functools
import re

import re2

from .guards import guard_methods
from .sizes import check_text_size
from .state import checkpoint, current, deny, exceed

MAX_PATTERN = 1000
#: Matches handed out between two looks at the time limit.
_TICK_EVERY = 256

# Python's flag values, so ``re.I | re.M`` in a script means what it says.
I = IGNORECASE = re.IGNORECASE
M = MULTILINE = re.MULTILINE
S = DOTALL = re.DOTALL
A = ASCII = re.ASCII
U = UNICODE = re.UNICODE
NOFLAG = 0
_INLINE = ((I, "i"), (M, "m"), (S, "s"))
_KNOWN = I | M | S | A | U

#: Python's Unicode classes written for RE2 (whose own ``\w`` is ASCII only).
_UNICODE_CLASSES = {
    "w": r"\p{L}\p{N}\p{M}_",
    "d": r"\p{Nd}",
    "s": r"\t\n\v\f\r\x1c-\x1f \x{85}\p{Z}",
}


class error(Exception):
    """A pattern RE2 cannot compile, or one that uses what RE2 does not have."""


@functools.lru_cache(maxsize=512)
def _translate(pattern, flags):
    """``pattern`` rewritten for RE2, or a :class:`str` problem to report."""
    if len(pattern) > MAX_PATTERN:
        return None, f"regular expressions are limited to {MAX_PATTERN} characters"
    unknown = flags & ~_KNOWN
    if unknown & re.VERBOSE:
        return None, "re.X (verbose patterns) is not available in scripts; write the pattern without comments"
    if unknown:
        return None, f"flag {unknown} is not available in scripts; use re.I, re.M, re.S or re.A"
    ascii_only = bool(flags & A) or isinstance(pattern, bytes)
    text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
    out = []
    in_class = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            index += 2
            if nxt.isdigit() and nxt != "0":
                return None, "backreferences such as \\1 are not supported by scripts' regular expressions"
            if nxt == "Z":
                out.append(r"\z")
            elif not ascii_only and nxt.lower() in _UNICODE_CLASSES:
                inner = _UNICODE_CLASSES[nxt.lower()]
                if in_class:
                    if nxt.isupper():
                        return None, f"\\{nxt} inside [...] is not supported; use [^...] instead"
                    out.append(inner)
                else:
                    out.append(("[^" if nxt.isupper() else "[") + inner + "]")
            else:
                out.append("\\" + nxt)
            continue
        if in_class:
            if char == "]" and out[-1] not in ("[", "[^"):
                in_class = False
        elif char == "[":
            in_class = True
            out.append("[")
            index += 1
            if text[index : index + 1] == "^":
                out.append("^")
                index += 1
            continue
        elif char == "(" and text.startswith(("(?=", "(?!", "(?<=", "(?<!"), index):
            return None, "lookahead and lookbehind such as (?=...) are not supported by scripts' regular expressions"
        elif char == "(" and text[index + 1 : index + 3] == "?P" and text[index + 3 : index + 4] in ("=", ">"):
            return None, "named backreferences (?P=name) are not supported by scripts' regular expressions"
        out.append(char)
        index += 1
    prefix = "".join(letter for flag, letter in _INLINE if flags & flag)
    rewritten = (f"(?{prefix})" if prefix else "") + "".join(out)
    return rewritten, None


def _options(latin1):
    options = re2.Options()
    options.log_errors = False
    # A pattern's compiled program may use this much memory; beyond it RE2 refuses.
    options.max_mem = 8 << 20
    if latin1:
        options.encoding = re2.Options.Encoding.LATIN1
    return options


_UTF8 = _options(False)
_LATIN1 = _options(True)


class Pattern:
    """A compiled pattern with the methods of ``re.Pattern``."""

    __slots__ = ("_regexp", "pattern", "flags", "groups", "groupindex")

    def __init__(self, pattern, flags=0):
        rewritten, problem = _translate(pattern, flags)
        if problem:
            deny("regex", problem)
        binary = isinstance(pattern, bytes)
        try:
            regexp = re2.compile(rewritten.encode("latin-1") if binary else rewritten,
                                 _LATIN1 if binary else _UTF8)
        except re2.error as exc:
            detail = exc.args[0] if exc.args else ""
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise error(f"invalid or unsupported regular expression {pattern!r}: {detail}") from None
        set_ = object.__setattr__
        set_(self, "_regexp", regexp)
        set_(self, "pattern", pattern)
        set_(self, "flags", flags)
        set_(self, "groups", regexp.groups)
        set_(self, "groupindex", dict(regexp.groupindex))

    def __setattr__(self, name, value):
        deny("write", "patterns are read-only")

    def __repr__(self):
        return f"re.compile({self.pattern!r})"

    def _text(self, string):
        if isinstance(self.pattern, bytes) != isinstance(string, (bytes, bytearray)):
            kind = "bytes-like" if isinstance(self.pattern, bytes) else "string"
            raise TypeError(f"cannot use a {kind} pattern on a {type(string).__name__}")
        if len(string) > 1024:
            checkpoint(len(string) >> 10)
        return bytes(string) if isinstance(string, bytearray) else string

    def search(self, string, pos=0, endpos=None):
        return self._regexp.search(self._text(string), pos, endpos)

    def match(self, string, pos=0, endpos=None):
        return self._regexp.match(self._text(string), pos, endpos)

    def fullmatch(self, string, pos=0, endpos=None):
        return self._regexp.fullmatch(self._text(string), pos, endpos)

    def finditer(self, string, pos=0, endpos=None):
        meter = current().meter
        for count, found in enumerate(self._regexp.finditer(self._text(string), pos, endpos)):
            if not count % _TICK_EVERY:
                meter.check(1)
            yield found

    def findall(self, string, pos=0, endpos=None):
        empty = type(string)()
        items = []
        for found in self.finditer(string, pos, endpos):
            if not self.groups:
                items.append(found.group())
            elif self.groups == 1:
                items.append(found.groups(default=empty)[0])
            else:
                items.append(found.groups(default=empty))
        return items

    def split(self, string, maxsplit=0):
        if maxsplit < 0:
            return [string]
        pieces, end = [], 0
        for count, found in enumerate(self.finditer(string), 1):
            pieces.append(string[end : found.start()])
            pieces.extend(found.group(group) for group in range(1, self.groups + 1))
            end = found.end()
            if count == maxsplit:
                break
        pieces.append(string[end:])
        return pieces

    def sub(self, repl, string, count=0):
        return self.subn(repl, string, count)[0]

    def subn(self, repl, string, count=0):
        # Each replacement is measured as it is made, so the growing result
        # stays within the string limit before it is joined.
        limit = current().limits.max_string
        total = len(string)
        if callable(repl):
            produce = repl
        elif isinstance(repl, (str, bytes)) and ("\\" if isinstance(repl, str) else b"\\") not in repl:

            def produce(found):
                return repl

        else:

            def produce(found):
                return expand(found, repl)

        pieces, end, made = [], 0, 0
        for found in self.finditer(string):
            if count and made >= count:
                break
            piece = produce(found)
            if not isinstance(piece, (str, bytes)):
                raise TypeError(f"expected a string from the replacement, not {type(piece).__name__}")
            total += len(piece) - (found.end() - found.start())
            if total > limit:
                exceed("memory", f"substitution result exceeds the limit of {limit} characters")
            pieces.append(string[end : found.start()])
            pieces.append(piece)
            end = found.end()
            made += 1
        pieces.append(string[end:])
        return type(string)().join(pieces), made


def expand(found, template):
    """``match.expand(template)``, measured before it is built."""
    if isinstance(template, (str, bytes)):
        refs = template.count("\\" if isinstance(template, str) else b"\\")
        if refs:
            groups = (found.group(0),) + found.groups()
            longest = max((len(group) for group in groups if group), default=0)
            check_text_size(len(template) + refs * longest, "expanded template")
    return found.expand(template)


def _no_pattern(found):
    deny("attribute", "match.re is not available in scripts; keep the compiled pattern instead")


guard_methods(re2._Match, expand=expand, re=_no_pattern)


def compile(pattern, flags=0):  # noqa: A001 - the name scripts know
    if isinstance(pattern, Pattern):
        if flags:
            raise ValueError("cannot process flags argument with a compiled pattern")
        return pattern
    if not isinstance(pattern, (str, bytes)) or not isinstance(flags, int):
        raise TypeError("first argument must be string or compiled pattern")
    return Pattern(pattern, flags)


def search(pattern, string, flags=0):
    return compile(pattern, flags).search(string)


def match(pattern, string, flags=0):
    return compile(pattern, flags).match(string)


def fullmatch(pattern, string, flags=0):
    return compile(pattern, flags).fullmatch(string)


def findall(pattern, string, flags=0):
    return compile(pattern, flags).findall(string)


def finditer(pattern, string, flags=0):
    return compile(pattern, flags).finditer(string)


def split(pattern, string, maxsplit=0, flags=0):
    return compile(pattern, flags).split(string, maxsplit)


def sub(pattern, repl, string, count=0, flags=0):
    return compile(pattern, flags).sub(repl, string, count)


def subn(pattern, repl, string, count=0, flags=0):
    return compile(pattern, flags).subn(repl, string, count)


def escape(pattern):
    return re.escape(pattern)


Match = re2._Match

#: What ``import re`` gives a script.
MEMBERS = {
    "compile": compile,
    "search": search,
    "match": match,
    "fullmatch": fullmatch,
    "findall": findall,
    "finditer": finditer,
    "split": split,
    "sub": sub,
    "subn": subn,
    "escape": escape,
    "error": error,
    "Pattern": Pattern,
    "Match": Match,
    "A": A,
    "ASCII": ASCII,
    "I": I,
    "IGNORECASE": IGNORECASE,
    "M": M,
    "MULTILINE": MULTILINE,
    "S": S,
    "DOTALL": DOTALL,
    "U": U,
    "UNICODE": UNICODE,
    "NOFLAG": NOFLAG,
}
