"""CLI verbs `guardgraph audit verify|prove|check-proof|checkpoint`: prove the log's integrity.

stdout carries data (a report, a proof), stderr carries messages (one JSON object each
under ``--format json``). Exit codes: 0 verified, 1 verification failed (the first bad
record is named), 2 usage or I/O error, or a target that is not an audit log. Reading
verbs open the store read-only: they never write a schema into a file. No traceback ever
reaches the user.
"""

import json
import sys
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from guardgraph._cli._audit_store import opened_store
from guardgraph._cli._console import console, fail_now, printable
from guardgraph.errors import AuditVerificationError, GuardgraphError

if TYPE_CHECKING:  # the audit log and rich are imported when a verb runs, not at start-up
    from guardgraph import audit

__all__ = ["audit_app", "is_file_db", "read_store"]

audit_app = typer.Typer(help="Review the audit log.", no_args_is_help=True)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


DbArg = Annotated[
    str,
    typer.Argument(help="Audit store: a SQLite path, sqlite:///PATH or postgresql://...",
                   metavar="DB"),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
KeyOpt = Annotated[
    list[str] | None,
    typer.Option("--public-key", help="Pin the log's verifier key (name+id+key, or a file "
                 "holding one; repeatable): the log must then carry a valid checkpoint "
                 "signed by it. Default: DB.pub beside a SQLite log.", metavar="KEY"),
]


def _failed(exc: AuditVerificationError, fmt: Format) -> NoReturn:
    message = str(exc).removeprefix(exc.code + ": ")
    if fmt is Format.JSON:
        doc = {"ok": False, "code": exc.code, "seq": exc.seq, "record_id": exc.record_id,
               "reason": exc.reason}
        sys.stdout.write(json.dumps(doc) + "\n")
        fail_now(message, code=1, as_json=True)
    # The diagnostic's code leads the line, as every GG code is shown (error[GG502]: ...).
    console(stderr=True).print(f"error[{exc.code}]: {printable(message)}", markup=False)
    raise typer.Exit(1)


def is_file_db(target: str) -> bool:
    """Whether ``target`` is a SQLite file rather than memory or a server URL."""
    return target != "memory:" and "://" not in target.replace("sqlite:///", "", 1)


def read_store(target: str, *, hint: str = "check the path, or pass sqlite:///PATH",
               as_json: bool = False) -> "AbstractContextManager[audit.AuditStore]":
    """The store at ``target``, read-only: a missing file, an empty or garbage file, or a
    database without the audit tables is an error (exit 2), never a new empty log."""
    file = Path(target.removeprefix("sqlite:///")) if is_file_db(target) else None
    return opened_store(target, file=file, hint=hint, read_only=True, as_json=as_json)


def _keys(target: str, given: list[str] | None, *, as_json: bool = False
          ) -> "list[audit.Verifier] | None":
    from guardgraph import audit

    try:
        if given:
            return [audit.load_verifier(k) for k in given]
        if is_file_db(target):
            pub = audit.log_files(target).public_key
            if pub.is_file():
                return [audit.load_verifier(str(pub))]
    except GuardgraphError as exc:
        fail_now(str(exc), as_json=as_json)
    return None


def _read_note(path: str, *, as_json: bool) -> "audit.SignedCheckpoint":
    from guardgraph import audit

    try:
        return audit.SignedCheckpoint.parse(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        fail_now(f"cannot read checkpoint {path}: {exc.strerror}", as_json=as_json)
    except AuditVerificationError as exc:
        fail_now(f"{path}: {exc.reason}", as_json=as_json)


@audit_app.command("verify")
def verify_cmd(
    db: DbArg,
    public_key: KeyOpt = None,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option("--checkpoint", help="A signed checkpoint kept outside the database (a "
                     "witness); the log must still store it and extend it. Repeatable. "
                     "Default: DB.checkpoint, the signer's witness.", metavar="FILE"),
    ] = None,
    skip_signatures: Annotated[
        bool, typer.Option("--skip-signatures", help="Check chain and tree heads only "
                           "(the output says that nobody's signature was checked).")
    ] = False,
    allow_unsigned_tail: Annotated[
        bool, typer.Option("--allow-unsigned-tail", help="Accept records after the last "
                           "signed checkpoint (a live log between checkpoints).")
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also parse every record and compare every stored "
                           "Merkle node.")
    ] = False,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Check the hash chain, the Merkle tree heads and their signatures.

    Exits 1 and names the first bad record on any edit, deletion, insertion or reordering,
    and when no valid signed checkpoint covers the log ("signed by nobody" never passes);
    exits 2 when DB is not an audit log.
    """
    from guardgraph import audit

    as_json = fmt is Format.JSON
    with read_store(db, as_json=as_json) as store:
        keys = None if skip_signatures else _keys(db, public_key, as_json=as_json)
        if keys is None and not skip_signatures:
            fail_now("no public key to check the checkpoint signatures with",
                     hint="pass --public-key KEY (or keep DB.pub beside the log), or "
                     "--skip-signatures", as_json=as_json)
        trusted = [_read_note(p, as_json=as_json) for p in checkpoint or []]
        if not checkpoint and is_file_db(db):
            witness = audit.log_files(db).witness
            if witness.is_file():
                trusted.append(_read_note(str(witness), as_json=as_json))
        try:
            report = audit.verify_log(store, public_keys=keys, trusted_checkpoints=trusted,
                                      deep=deep, unsigned_tail_ok=allow_unsigned_tail)
        except AuditVerificationError as exc:
            _failed(exc, fmt)
        except GuardgraphError as exc:
            fail_now(str(exc), as_json=as_json)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    signed = ", ".join(report.signed_by) or "nobody (signatures not checked)"
    sys.stdout.write(
        f"ok: {_n(report.records, 'record')}, {_n(report.checkpoints, 'checkpoint')}, "
        f"root {report.root_hash}, signed by {signed}\n"
    )
    err = console(stderr=True)
    if report.records == 0:
        err.print("note: the log is empty; check the path or URL")
    if report.unsigned_tail:
        err.print(f"note: the last {report.unsigned_tail} records are not yet covered by a "
                  "signed checkpoint")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _emit(doc: dict[str, Any], output: Path | None) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_now(f"cannot write {output}: {exc.strerror}")


@audit_app.command("prove")
def prove_cmd(
    db: DbArg,
    record_id: Annotated[
        str | None, typer.Argument(help="Record id, a unique id prefix, or its sequence "
                                   "number.", metavar="RECORD_ID")
    ] = None,
    size: Annotated[
        int | None, typer.Option("--size", help="Prove against the checkpoint of N records "
                                 "(default: the latest).", metavar="N")
    ] = None,
    consistency: Annotated[
        tuple[int, int] | None,
        typer.Option("--consistency", help="Prove that the checkpoint of NEW_SIZE records "
                     "extends the log of OLD_SIZE records.", metavar="OLD_SIZE NEW_SIZE"),
    ] = None,
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Write the proof to "
                                                "a file instead of stdout.")] = None,
) -> None:
    """Print an inclusion proof for one record, or a consistency proof (JSON), that
    `guardgraph audit check-proof` verifies without the log."""
    from guardgraph import audit

    if (record_id is None) == (consistency is None):
        fail_now("give either RECORD_ID or --consistency OLD_SIZE NEW_SIZE",
                 hint="guardgraph audit prove DB RECORD_ID [--size N]")
    with read_store(db) as store:
        log = audit.AuditLog(store)
        try:
            if consistency is not None:
                proof: audit.InclusionProof | audit.ConsistencyProof = log.prove_consistency(
                    consistency[0], consistency[1]
                )
            else:
                assert record_id is not None
                proof = log.prove_inclusion(audit.resolve_id(store, record_id), size=size)
        except AuditVerificationError as exc:
            _failed(exc, Format.TEXT)
        except GuardgraphError as exc:
            fail_now(str(exc))
    _emit(proof.to_json(), output)


@audit_app.command("check-proof")
def check_proof_cmd(
    proof_file: Annotated[Path, typer.Argument(help="A proof written by `guardgraph audit "
                                               "prove`.", metavar="PROOF.json")],
    public_key: Annotated[
        list[str] | None,
        typer.Option("--public-key", help="The log's verifier key (name+id+key, or a file "
                     "holding one, such as DB.pub); required, repeatable. The proof's "
                     "checkpoint must be signed by one of them.", metavar="KEY"),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
) -> None:
    """Verify a proof offline, without the log: the record (or the older tree) against
    the signed checkpoint in the proof, and that checkpoint against the public key."""
    from guardgraph import audit

    as_json = fmt is Format.JSON
    if not public_key:
        fail_now("check-proof needs the log's public key",
                 hint="pass --public-key KEY or --public-key DB.pub", as_json=as_json)
    keys = _keys("memory:", public_key, as_json=as_json) or []
    try:
        data = json.loads(proof_file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail_now(f"cannot read {proof_file}: {exc.strerror}", as_json=as_json)
    except (ValueError, UnicodeDecodeError) as exc:
        fail_now(f"{proof_file} is not JSON: {exc}", as_json=as_json)
    try:
        proof = audit.proof_from_json(data)
        if isinstance(proof, audit.InclusionProof):
            audit.verify_inclusion_proof(proof, verifiers=keys)
            what = (f"record {proof.record.seq} ({proof.record.id}) is in the log "
                    f"{proof.checkpoint.origin} of {proof.tree_size} records")
            doc: dict[str, Any] = {"ok": True, "type": "inclusion", "seq": proof.record.seq,
                                   "record_id": proof.record.id, "tree_size": proof.tree_size}
        else:
            audit.verify_consistency_proof(proof, verifiers=keys)
            what = (f"the log {proof.checkpoint.origin} of {proof.new_size} records extends "
                    f"its first {proof.old_size} records")
            doc = {"ok": True, "type": "consistency", "old_size": proof.old_size,
                   "new_size": proof.new_size}
    except AuditVerificationError as exc:
        _failed(exc, fmt)
    doc["root_hash"] = proof.checkpoint.root_hash.hex()
    if as_json:
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        sys.stdout.write(f"ok: {what}\n")


@audit_app.command("checkpoint")
def checkpoint_cmd(
    db: DbArg,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The log's private key file (default: DB.key beside a "
                     "SQLite log; required for PostgreSQL). Its witness, the last signed "
                     "checkpoint, is kept beside it.", metavar="FILE"),
    ] = None,
) -> None:
    """Sign the current tree head with the log's key and print the signed note.

    Refused (exit 1) when the log does not consistently extend the last checkpoint the key
    signed: a wiped or rewritten log is never signed.
    """
    from guardgraph import audit

    file_db = is_file_db(db)
    if not file_db and key is None:
        fail_now("signing a PostgreSQL log needs its private key", hint="pass --key FILE")
    if key is not None and not key.is_file():
        fail_now(f"no private key at {key}")
    if file_db and key is None and not audit.log_files(db).key.is_file():
        with read_store(db) as store:
            signed_before = store.get_checkpoint() is not None
        if signed_before:  # a fresh key would sign heads no reviewer's key accepts
            fail_now(f"the log was signed before, but its key {audit.log_files(db).key} is "
                     "missing", hint="pass --key FILE with the log's private key")
    if file_db:
        with read_store(db):
            pass  # an existing audit log, not a file a schema would be written into
    try:
        log = audit.open_log(db, key_path=key)
    except GuardgraphError as exc:
        fail_now(str(exc))
    try:
        signed = log.checkpoint()
    except AuditVerificationError as exc:
        _failed(exc, Format.TEXT)
    except GuardgraphError as exc:
        fail_now(str(exc))
    finally:
        log.close(checkpoint=False)
    sys.stdout.write(signed.note)
