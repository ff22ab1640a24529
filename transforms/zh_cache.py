"""A disk cache for the tagger's Chinese dictionary state (and the scorer's built weights), so a new
process starts in a fraction of a second.

Preparing jieba for a taxonomy costs about 2.5 s of CPU in every new process: jieba loads its
prefix dictionary (half a million entries), the taxonomy's words are added to it, and the tagger
derives its character pairs from it. All of that is a pure function of jieba's dictionary file and
the taxonomy's Chinese words, so the result is stored once, keyed by a hash of exactly those
inputs, and later processes (each `guanxi` command, each ingest worker) load it. The tagger stores
it in parts (`pack`), one per first character, and reads a part (`unpack`) only when a post needs
it (transforms.tagging.read_dictionary). The learned scorer's weights are kept the same way (kind
"scorer", keyed by the weights file's bytes): building them from the shipped JSON costs about
0.75 s, reading them back about 0.04 s; and the scorer's gazetteer (kind "gazetteer").

Where: `$GUANXI_CACHE_DIR`, else `$XDG_CACHE_HOME/guanxi`, else `~/.cache/guanxi`. The files hold
nothing from posts or the store, only dictionary words. A missing, stale, unreadable or corrupt file
is never an error: the state is computed again and the file rewritten (atomically, so concurrent
processes never see half a file); an unwritable folder just means no cache. Each file starts with a
CRC-32 of the rest, checked on loading (about 9 ms for the 12 MB dictionary state), because parts
of a state are unpickled only later, while tagging, where a damaged one could not be recomputed.

Equal strings are written once (`one_copy`, and within each part): character pairs made by slicing
are mostly dictionary words too, so the state read back holds each string once, less memory in
every process (and shared by the ingest workers), and is quicker to read.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import zlib
from pathlib import Path
from typing import Any

# Bump when the cached payload's shape or meaning changes (2: equal strings written once; 3: a
# checksum of the file's body before it).
FORMAT = 3
_KEEP = 4


def cache_dir() -> Path:
    """The folder cache files live in (not created here)."""
    if os.environ.get("GUANXI_CACHE_DIR"):
        return Path(os.environ["GUANXI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "guanxi"


def cache_key(*parts: Any) -> str:
    """A short hash of everything the cached state is derived from (JSON-serialisable parts)."""
    blob = json.dumps([FORMAT, *parts], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def load(key: str, kind: str = "zh-dict") -> Any | None:
    """The state of this kind stored under key, or None when there is none or it cannot be read back."""
    try:
        data = (cache_dir() / f"{kind}-{key}.pickle").read_bytes()
        # The checksum covers the parts read only later (pack): a damaged one is found here,
        # where the state can still be computed again, not while tagging.
        body = memoryview(data)[4:]
        if len(data) < 4 or data[:4] != zlib.crc32(body).to_bytes(4, "big"):
            return None
        payload = pickle.loads(body)
    except Exception:  # missing, unreadable or corrupt: the caller computes it again
        return None
    if not isinstance(payload, tuple) or len(payload) != 2 or payload[0] != key:
        return None
    return payload[1]


def one_copy(state: Any, strings: dict[str, str] | None = None) -> Any:
    """The state with every equal string the same object (the first met, in order), walking
    tuples, lists, dicts, sets and frozensets of exactly those types; anything else is kept as
    it is. Pickle writes an object once however often it is referred to, so what is read back
    shares them too."""
    strings = {} if strings is None else strings
    kind = type(state)
    if kind is str:
        return strings.setdefault(state, state)
    if kind is dict:
        return {one_copy(k, strings): one_copy(v, strings) for k, v in state.items()}
    if kind in (tuple, list, set, frozenset):
        return kind(one_copy(item, strings) for item in state)
    return state


def pack(part: Any) -> bytes:
    """A part of a state packed on its own (equal strings once within it), for a state whose
    parts are read only when needed: the state holds these bytes, unpack reads one back."""
    return pickle.dumps(one_copy(part), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(blob: bytes) -> Any:
    """A part packed by pack."""
    return pickle.loads(blob)


def save(key: str, state: Any, kind: str = "zh-dict") -> None:
    """Store state of this kind under key (equal strings once), replacing older files of that
    kind; failures are silent."""
    folder = cache_dir()
    state = one_copy(state)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            body = pickle.dumps((key, state), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(fd, "wb") as out:
                out.write(zlib.crc32(body).to_bytes(4, "big"))
                out.write(body)
            os.replace(tmp, folder / f"{kind}-{key}.pickle")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # Keep the few newest states (a user may switch between taxonomies), drop the rest.
        states = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda path: path.stat().st_mtime, reverse=True)
        for old in states[_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
