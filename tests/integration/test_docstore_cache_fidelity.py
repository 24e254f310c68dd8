"""The docstore's document cache changes no answer: random operations against two docstores, cache on and off.

Each seed runs the same random sequence of inserts, finds by `_id` (with and without projections),
findAndModify (returning before or after, guarded or not), updates and deletes by `_id` and by
other filters, bulk writes, sorted finds and drops against both, and compares every reply byte for
byte, then the stored documents.
"""

from __future__ import annotations

import random
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import DeleteOne, InsertOne, MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RAW = CodecOptions(document_class=RawBSONDocument)
IDS = [f"d{n}" for n in range(12)]


def docstore_binary(into: Path) -> Path:
    """Return the docstore the stack built (scripts/stack.sh) if it is newer than its sources, else build one."""
    built = ROOT / "var" / "bin" / "docstore"
    sources = list((ROOT / "tools" / "docstore").glob("*.go"))
    if built.exists() and all(source.stat().st_mtime <= built.stat().st_mtime for source in sources):
        return built
    binary = into / "docstore"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=ROOT / "tools" / "docstore", check=True)
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def docstore(binary: Path, data: Path, *flags: str) -> Iterator[MongoClient]:
    """Run a docstore of its own on a free port; yield a client of it."""
    port = free_port()
    data.mkdir()
    process = subprocess.Popen([str(binary), "-listen", f"127.0.0.1:{port}", "-data", str(data), *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=20000)
    try:
        client.admin.command("ping")
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)


def random_document(rng: random.Random, doc_id: str) -> dict:
    document = {"_id": doc_id, "n": rng.randint(0, 5), "rev": 0, "tags": rng.sample(["a", "b", "c", "d"], 2),
                "nested": {"x": rng.random(), "when": None}, "note": "x" * rng.randint(0, 300)}
    if rng.random() < 0.2:
        document["zero"] = -0.0  # FerretDB stores it as 0.0: an insert holding it must not be cached as sent
    if rng.random() < 0.3:
        document = {"first": True, **document}  # `_id` not first
    return document


def operation(rng: random.Random):
    """Return a random operation: a function of a database returning what to compare."""
    doc_id = rng.choice(IDS)
    value = rng.randint(0, 5)
    kind = rng.choice(["insert", "insert", "find", "find", "find", "find_projected", "fam", "fam", "fam_guarded",
                       "update", "update_many", "delete", "bulk", "sorted", "drop"])
    document = random_document(rng, doc_id)
    projection = rng.choice([{"n": 1}, {"n": 0, "note": 0}, {"_id": 0, "tags": 1}, {"_id": 0}, {"nested": 1, "n": 1}])
    update = rng.choice([{"$set": {"n": value}}, {"$inc": {"n": 1, "rev": 1}}, {"$unset": {"note": ""}},
                         {"$push": {"tags": "e"}}, {"$set": {"nested.when": value}}])
    returned = rng.choice([ReturnDocument.BEFORE, ReturnDocument.AFTER])
    other = rng.choice(IDS)
    other_document = random_document(rng, other)

    def run(db):
        c = db["docs"]
        try:
            if kind == "insert":
                return c.insert_one(document).inserted_id
            if kind == "find":
                return c.find_one({"_id": doc_id})
            if kind == "find_projected":
                return c.find_one({"_id": doc_id}, projection)
            if kind == "fam":
                return c.find_one_and_update({"_id": doc_id}, update, return_document=returned)
            if kind == "fam_guarded":
                return c.find_one_and_update({"_id": doc_id, "n": value}, update, return_document=returned)
            if kind == "update":
                result = c.update_one({"_id": doc_id, "rev": {"$gte": 0}}, update)
                return result.matched_count, result.modified_count
            if kind == "update_many":
                result = c.update_many({"n": value}, {"$set": {"note": "many"}})
                return result.matched_count
            if kind == "delete":
                return c.delete_one({"_id": doc_id}).deleted_count
            if kind == "bulk":
                result = c.bulk_write([UpdateOne({"_id": doc_id}, update), DeleteOne({"_id": other}),
                                       InsertOne(other_document)], ordered=True)
                return result.bulk_api_result["nModified"], result.bulk_api_result["nRemoved"]
            if kind == "sorted":
                return list(c.find({}, sort=[("_id", 1)], limit=3))
            c.drop()
            return "dropped"
        except (DuplicateKeyError, BulkWriteError, OperationFailure) as exc:
            return type(exc).__name__

    return kind, run


def raw_bytes(result):
    """Return a result with documents as their BSON bytes, so field order and types are compared too."""
    if isinstance(result, RawBSONDocument):
        return result.raw
    if isinstance(result, list):
        return [raw_bytes(item) for item in result]
    if isinstance(result, tuple):
        return tuple(raw_bytes(item) for item in result)
    return result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_answer_is_the_same_with_the_cache_on_and_off(tmp_path, seed):
    binary = docstore_binary(tmp_path)
    with docstore(binary, tmp_path / "cached") as cached, \
            docstore(binary, tmp_path / "uncached", "-doc-cache-mb", "0") as uncached:
        dbs = [client.get_database("fidelity", codec_options=RAW) for client in (cached, uncached)]
        rng = random.Random(seed)
        for step in range(300):
            kind, run = operation(rng)
            answers = [raw_bytes(run(db)) for db in dbs]
            assert answers[0] == answers[1], f"step {step}: {kind}"
        stored = [[d.raw for d in db["docs"].find({}, sort=[("_id", 1)])] for db in dbs]
        assert stored[0] == stored[1]
