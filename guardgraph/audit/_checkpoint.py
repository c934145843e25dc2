"""Signed tree heads in the C2SP signed-note / tlog-checkpoint form, and Ed25519 keys.

A checkpoint body is three lines, ``origin``, decimal tree size and base64 root hash; a
signed note appends a blank line and one ``— <key name> <base64(key id || signature)>``
line per signature. The key id is the first four bytes of SHA-256(name || 0x0A || 0x01 ||
public key), 0x01 being the Ed25519 signature type (C2SP signed-note). Keys are kept in
the note formats too: ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` and the
verifier key ``<name>+<hex id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from guardgraph.errors import AuditKeyError, AuditVerificationError

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "SignedCheckpoint",
    "Signer",
    "Verifier",
    "key_id",
    "load_or_create_signer",
    "load_verifier",
]

_ED25519 = b"\x01"
_DASH = "\u2014 "  # the em dash and space that open every signature line


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key id: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise AuditKeyError(
            f"a key name must be non-empty without spaces or '+', got {name!r}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A tree head: the log ``origin``, its ``size`` and the RFC 6962 root hash."""

    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        """The signed text (C2SP tlog-checkpoint), trailing newline included."""
        root = base64.b64encode(self.root_hash).decode()
        return f"{self.origin}\n{self.size}\n{root}\n"

    @property
    def root_hex(self) -> str:
        return self.root_hash.hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint with its note signatures; ``note`` is the exact signed-note text."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash

    @property
    def note(self) -> str:
        lines = [
            f"{_DASH}{s.name} {base64.b64encode(s.key_id + s.signature).decode()}\n"
            for s in self.signatures
        ]
        return self.checkpoint.body() + "\n" + "".join(lines)

    @classmethod
    def parse(cls, text: str) -> SignedCheckpoint:
        """Parse a signed note; raises :class:`AuditVerificationError` (GG503) when malformed."""
        def bad(why: str) -> AuditVerificationError:
            return AuditVerificationError(f"malformed checkpoint note: {why}", code="GG503")

        head, sep, sigs = text.partition("\n\n")
        if not sep:
            raise bad("no blank line between the checkpoint and its signatures")
        lines = head.split("\n")
        if len(lines) < 3:
            raise bad("expected origin, size and root hash lines")
        origin, size_s, root_s = lines[0], lines[1], lines[2]
        if not size_s.isdigit() or (size_s.startswith("0") and size_s != "0"):
            raise bad(f"tree size must be a decimal number, got {size_s!r}")
        try:
            root = base64.b64decode(root_s, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise bad(f"root hash is not base64: {root_s!r}") from None
        if len(root) != 32:
            raise bad(f"root hash must be 32 bytes, got {len(root)}")
        if len(lines) > 3:
            raise bad("checkpoint extension lines are not supported")
        signatures: list[NoteSignature] = []
        if not sigs.endswith("\n"):
            raise bad("the signature block must end with a newline")
        for line in sigs[:-1].split("\n"):
            if not line.startswith(_DASH):
                raise bad(f"signature line must start with an em dash: {line!r}")
            name, _, b64 = line[len(_DASH) :].partition(" ")
            try:
                raw = base64.b64decode(b64, validate=True)
            except ValueError:  # binascii.Error, or non-ASCII text
                raise bad(f"signature of {name!r} is not base64") from None
            if len(raw) < 5:
                raise bad(f"signature of {name!r} is too short")
            signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
        if not signatures:
            raise bad("no signature")
        cp = Checkpoint(origin=origin, size=int(size_s), root_hash=root)
        signed = cls(checkpoint=cp, signatures=tuple(signatures))
        if signed.note != text:
            # e.g. base64 with stray padding bits: accept only the exact text that was signed
            raise bad("the note is not in canonical form")
        return signed


@dataclass(frozen=True, slots=True, kw_only=True)
class Verifier:
    """A trusted Ed25519 note key: ``name``, ``key_id`` and the raw 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """From the verifier-key string ``<name>+<hex id>+<base64(0x01 || key)>``."""
        parts = vkey.strip().split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3:
            raise AuditKeyError(f"expected '<name>+<hex id>+<base64 key>', got {vkey!r}")
        name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hex_id)
        except ValueError:  # binascii.Error, non-ASCII or bad hex
            raise AuditKeyError(f"malformed verifier key {vkey!r}") from None
        if len(raw) != 33 or raw[:1] != _ED25519 or len(kid) != 4:
            raise AuditKeyError(f"not an Ed25519 verifier key: {vkey!r}")
        if key_id(name, raw[1:]) != kid:
            raise AuditKeyError(f"verifier key {vkey!r}: its id does not match the key")
        return cls(name=name, key_id=kid, public_key=raw[1:])

    def vkey(self) -> str:
        b64 = base64.b64encode(_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def verifies(self, signed: SignedCheckpoint) -> bool:
        """True when one of the note's signatures is this key's and is valid."""
        body = signed.checkpoint.body().encode()
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        for sig in signed.signatures:
            if sig.name == self.name and sig.key_id == self.key_id:
                try:
                    key.verify(sig.signature, body)
                except InvalidSignature:
                    continue
                return True
        return False


class Signer:
    """An Ed25519 note signer. Keep the private key away from the database: whoever holds
    the database alone must not be able to sign a rewritten history."""

    __slots__ = ("_key", "name", "verifier")

    def __init__(self, private_key: Ed25519PrivateKey, *, name: str) -> None:
        _check_name(name)
        self._key = private_key
        self.name = name
        pub = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name=name, key_id=key_id(name, pub), public_key=pub)

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(Ed25519PrivateKey.generate(), name=name)

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """From ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise AuditKeyError("expected 'PRIVATE+KEY+<name>+<hex id>+<base64 seed>'")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise AuditKeyError("the private key is not base64") from None
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise AuditKeyError("not an Ed25519 private key")
        signer = cls(Ed25519PrivateKey.from_private_bytes(raw[1:]), name=parts[2])
        if signer.verifier.key_id.hex() != parts[3]:
            raise AuditKeyError("the private key's id does not match the key")
        return signer

    def skey(self) -> str:
        seed = self._key.private_bytes_raw()
        b64 = base64.b64encode(_ED25519 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{b64}"

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        sig = self._key.sign(checkpoint.body().encode())
        note_sig = NoteSignature(name=self.name, key_id=self.verifier.key_id, signature=sig)
        return SignedCheckpoint(checkpoint=checkpoint, signatures=(note_sig,))


def load_or_create_signer(path: Path, *, name: str) -> Signer:
    """The signer kept at ``path`` (mode 0600), created on first use; also writes the
    verifier key beside it as ``<path minus .key>.pub`` for reviewers."""
    try:
        if path.exists():
            return Signer.parse(path.read_text(encoding="utf-8"))
        signer = Signer.generate(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(signer.skey() + "\n")
        path.with_suffix(".pub").write_text(signer.verifier.vkey() + "\n", encoding="utf-8")
        return signer
    except FileExistsError:  # another process created it first: use theirs
        return Signer.parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditKeyError(f"cannot read or create the signing key {path}: {exc}") from None


def load_verifier(text_or_path: str) -> Verifier:
    """A verifier from a ``name+id+key`` string or from a file holding one."""
    candidate = Path(text_or_path)
    if "+" not in text_or_path or candidate.is_file():
        try:
            text_or_path = candidate.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuditKeyError(f"cannot read public key {candidate}: {exc}") from None
    return Verifier.parse(text_or_path)
