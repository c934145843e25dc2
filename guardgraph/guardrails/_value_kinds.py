"""Canonical keys of a value by kind, so that formatting does not launder provenance.

Both sides of a provenance lookup go through these functions: what a tool returned or the
user typed is indexed under the canonical keys of each of its parts, and an argument is
looked up under its own. Two spellings of one value therefore meet on one key:

- text: NFKC, case folded, zero-width characters and soft hyphens removed, dash variants
  read as ``-``, runs of whitespace (NBSP included, via NFKC) as one space;
- numbers ``#n/d``: ``1,000.00``, ``1 000``, ``1000``, ``1e3`` and ``1.000,00`` are one key
  (``10,50`` with one or two decimals after the comma is ``10.50``);
- identifiers ``i:``: alphanumeric chunks holding a digit, joined across spaces, hyphens,
  dots and underscores (``DE89 3704 0044`` = ``de8937040044``); a letters-only chunk of at
  four joins only inside blocks of four (``GB29 NWBK 6016``);
- URLs ``u:``: no scheme, host lower case without ``www.`` and without a trailing dot,
  default port dropped, path and query percent-decoded, trailing slash and fragment dropped;
- emails ``e:``: ``mailto:`` dropped, percent-decoded, case folded; the address with its
  ``+tag`` is one key, the address without it a second one (see ``email_keys``);
- paths ``p:``: ``\\`` read as ``/``, then normalised (``//``, ``./``, ``x/..``, trailing ``/``);
- windows ``w:``: every run of :data:`WINDOW` characters of an identifier, forwards and
  reversed, so a fragment or a reversal of an untrusted identifier still meets it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from urllib.parse import unquote, urlsplit

from guardgraph.guardrails._validate import normalize

__all__ = ["WINDOW", "Unit", "email_keys", "fold", "number_key", "numbers_in", "path_key",
           "plain", "plain_tokens", "token_kind_keys", "units", "url_key", "whole_kind_key",
           "windows"]

# An identifier fragment this long is distinctive: 8 characters of an IBAN or an account
# number match an unrelated identifier by chance about once in 10^8 (digits) or less.
WINDOW = 8

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060\ufeff]")
_DASHES = re.compile("[\u2010-\u2015\u2212\ufe58\ufe63]")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\s,;!?()\[\]{}<>\"'`]+")
_CHUNK = re.compile(r"[0-9a-z]+(?:[-._][0-9a-z]+)*")
_SEP = re.compile(r"[-._\s]")
_DIGIT = re.compile(r"\d")
_KIND_MARK = re.compile(r"[@./~\\:%]")
_CURRENCY = "$€£¥₹₽₩"

# Number spellings, each scanned on its own so that a grouped reading ("1 000") does not
# hide the plain readings of its parts ("1", "000") on the indexing side.
_NUMBER_FORMS = (
    re.compile(r"(?<![\w.,])[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w]|[.,]\d)"),
    re.compile(r"(?<![\w.,])[+-]?\d{1,3}(?:[ '\u202f]\d{3})+(?:[.,]\d+)?(?![\w]|[.,]\d)"),
    re.compile(r"(?<![\w.,])[+-]?\d{1,3}(?:\.\d{3})+,\d+(?![\w]|[.,]\d)"),
    re.compile(r"(?<![\w.,])[+-]?\d+,\d{1,2}(?![\w]|[.,]\d)"),  # 10,50 (decimal comma)
    re.compile(r"(?<![\w.])[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?(?![\w])"),
)
_NUMBER_ANY = re.compile("|".join(f"(?:{f.pattern})" for f in _NUMBER_FORMS))
_SPACED_COMMA = re.compile(r"[+-]?\d{1,3}(?:[ '\u202f]\d{3})*,\d{1,2}|[+-]?\d{1,3}[ '\u202f]\d{3}"
                           r"(?:[ '\u202f]\d{3})*,\d+")
_GROUPING = re.compile(r"[ ,'\u202f]")
_HOSTLIKE = re.compile(r"(?:www\.)?[0-9a-z-]+(?:\.[0-9a-z-]+)*\.[a-z]{2,}(?::\d+)?(?:[/?#]\S*)?")
_EMAIL = re.compile(r"([^\s@/:]+)@([0-9a-z-]+(?:\.[0-9a-z-]+)+)\.?")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}


def fold(text: str) -> str:
    """The text form every key is built from (see the module doc)."""
    folded = normalize(text).casefold()
    if not folded.isascii():  # the invisible characters and dash variants are not ASCII
        folded = _DASHES.sub("-", _INVISIBLE.sub("", folded))
    return _SPACE.sub(" ", folded).strip()


def number_key(value: int | Fraction) -> str:
    q = Fraction(value)
    return f"#{q.numerator}/{q.denominator}"


def _parse_number(text: str, *, leading_zero: bool = False) -> Fraction | None:
    """A number written in one of the accepted spellings, else None; ``007`` only with
    ``leading_zero``."""
    t = text.strip().strip(_CURRENCY).strip()
    if not _DIGIT.search(t) or not _NUMBER_ANY.fullmatch(t):
        return None
    digits = t.lstrip("+-")
    if not leading_zero and len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        return None  # "007", "0012": an identifier, whose zeros matter
    if "," in t and "." in t and t.rfind(",") > t.rfind("."):
        t = t.replace(".", "").replace(",", ".")  # 1.000,00
    elif _SPACED_COMMA.fullmatch(t):
        t = t.replace(",", ".")  # 1 000,50
    t = _GROUPING.sub("", t)
    try:
        return Fraction(Decimal(t))
    except (InvalidOperation, ValueError, ZeroDivisionError, OverflowError):
        return None


def numbers_in(folded: str) -> list[str]:
    """Number keys of every number spelled anywhere in a text (indexing side)."""
    keys: list[str] = []
    spelled = dict.fromkeys(m.group() for form in _NUMBER_FORMS for m in form.finditer(folded))
    for text in spelled:
        # a leading-zero spelling is an identifier on the argument side, but the indexing
        # side keeps its value too: taint on doubt
        q = _parse_number(text, leading_zero=True)
        if q is not None:
            keys.append(number_key(q))
    return keys


def url_key(token: str) -> str | None:
    """``u:host[:port]/path?query`` of a URL or of a bare host name, else None."""
    t = token.rstrip(".:")
    if "." not in t and "://" not in t:  # cheap exit: most tokens are words
        return None
    if "://" in t:
        scheme, _, rest = t.partition("://")
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or not rest:
            return None
    elif _HOSTLIKE.fullmatch(t):
        scheme, rest = "http", t
    else:
        return None
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = unquote(host).rstrip(".")
    host = host.removeprefix("www.")
    port_text = "" if port is None or _DEFAULT_PORTS.get(scheme) == str(port) else f":{port}"
    path = unquote(parts.path).rstrip("/")
    query = f"?{unquote(parts.query)}" if parts.query else ""
    return f"u:{host}{port_text}{path}{query}"


def email_keys(token: str) -> list[str]:
    """``e:`` keys of an email address: with its ``+tag`` first, then without it.

    An untrusted ``x@evil.test`` taints ``x+1@evil.test`` (one mailbox); the user's
    ``bob@corp.test`` does not make ``bob+x@corp.test`` theirs, since the lookup for
    ``from_user`` uses the first key only.
    """
    if "@" not in token and "%40" not in token:
        return []
    t = unquote(token.removeprefix("mailto:")).rstrip(".:")
    m = _EMAIL.fullmatch(t)
    if m is None:
        return []
    local, domain = m.group(1), m.group(2)
    keys = [f"e:{local}@{domain}"]
    base = local.split("+", 1)[0]
    if base and base != local:
        keys.append(f"e:{base}@{domain}")
    return keys


def path_key(token: str) -> str | None:
    """``p:`` key of a file path (absolute, home- or dot-relative, or a Windows drive)."""
    if token[:1] not in ("/", "~", ".", "\\") and token[1:2] != ":":
        return None
    t = token.replace("\\", "/")
    if not (t.startswith(("/", "~/", "./", "../")) or re.match(r"[a-z]:/", t)):
        return None
    if " " in t:
        return None
    return "p:" + posixpath.normpath(unquote(t)).replace("//", "/")


def token_kind_keys(token: str) -> list[str]:
    """Kind keys of one whitespace/punctuation-delimited token (no plain key)."""
    out = email_keys(token)
    if not out:
        url = url_key(token)
        if url is not None:
            out.append(url)
    path = path_key(token)
    if path is not None:
        out.append(path)
    q = _parse_number(token)
    if q is not None:
        out.append(number_key(q))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """A token of a text, or a run of identifier chunks joined into one identifier."""

    text: str  # the token, or the run's tokens joined by single spaces
    chunks: tuple[str, ...]  # compacted identifier chunks; empty for a plain token

    @property
    def ident(self) -> str:
        return "".join(self.chunks)


def _chunk(token: str) -> str | None:
    if _DIGIT.search(token) and _CHUNK.fullmatch(token):
        return _SEP.sub("", token)
    return None


def plain(folded: str) -> bool:
    """Whether a folded text has no part of a kind (no digit, no ``@ . / ~ \\ : %``)."""
    return not _DIGIT.search(folded) and _KIND_MARK.search(folded) is None


def plain_tokens(folded: str) -> list[str]:
    """The tokens of a :func:`plain` text."""
    return _TOKEN.findall(folded)


def units(folded: str) -> list[Unit]:
    """The tokens of a folded text, consecutive identifier chunks merged into runs."""
    tokens = [t for t in (t.rstrip(".:") for t in _TOKEN.findall(folded)) if t]
    if not _DIGIT.search(folded):  # no identifier chunk without a digit: plain tokens
        return [Unit(text=t, chunks=()) for t in tokens]
    chunks = [_chunk(t) for t in tokens]
    out: list[Unit] = []
    run: list[str] = []
    run_text: list[str] = []
    for i, token in enumerate(tokens):
        c = chunks[i]
        if c is None and run and len(run[-1]) == 4 and token.isalpha() and len(token) == 4 \
                and i + 1 < len(tokens) and chunks[i + 1] is not None:
            c = token  # "GB29 NWBK 6016": a letter group inside blocks of four
        if c is not None:
            run.append(c)
            run_text.append(token)
            continue
        if run and _SEP.fullmatch(token[:1]) and not token.strip("-._") \
                and i + 1 < len(tokens) and chunks[i + 1] is not None:
            run_text.append(token)  # "AA10 - 0000": a free-standing separator
            continue
        if run:
            out.append(Unit(text=" ".join(run_text), chunks=tuple(run)))
            run, run_text = [], []
        out.append(Unit(text=token, chunks=()))
    if run:
        out.append(Unit(text=" ".join(run_text), chunks=tuple(run)))
    return out


def windows(ident: str, *, reverse: bool = True) -> list[str]:
    """``w:`` keys of every :data:`WINDOW`-long run of an identifier (and of its reversal)."""
    if len(ident) < WINDOW:
        return []
    forms = (ident, ident[::-1]) if reverse else (ident,)
    return [f"w:{s[i:i + WINDOW]}" for s in forms for i in range(len(s) - WINDOW + 1)]


def whole_kind_key(folded: str) -> str | None:
    """The one canonical key of a whole argument string, when it is of a kind."""
    if not folded or plain(folded):
        return None  # neither a number, an identifier, an email, a URL nor a path
    emails = email_keys(folded)
    if emails:
        return emails[0]
    url = url_key(folded)
    if url is not None and " " not in folded:
        return url
    q = _parse_number(folded)
    if q is not None:
        return number_key(q)
    path = path_key(folded)
    if path is not None:
        return path
    parts = units(folded)
    if len(parts) == 1 and parts[0].chunks and parts[0].text == folded.rstrip(".:"):
        return "i:" + parts[0].ident
    return None
