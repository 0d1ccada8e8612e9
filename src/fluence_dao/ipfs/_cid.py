"""CIDs, multihashes, multibases and varints: the small parts of multiformats that IPFS needs.

Written here rather than taken from the PyPI `multiformats` package: its `CID.decode` costs about 0.4 ms
per call (it validates through a dynamic registry on every call), and the store, the UnixFS importer and the
RPC server parse and print CIDs on every block. This module is a frozen dataclass over three fields and a
few pure functions (varint, base58btc, base32); tests check it against `multiformats` on the same inputs.
Only sha2-256 (and identity, for inline CIDs) can be verified; other hash functions parse but are refused
when a block must be checked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from fluence_dao.errors import InvalidCidError
from fluence_dao.util.varint import decode_uvarint, encode_uvarint

RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
DAG_JSON = 0x0129
LIBP2P_KEY = 0x72

SHA2_256 = 0x12
IDENTITY = 0x00

CODEC_NAMES: dict[int, str] = {
    RAW: "raw",
    DAG_PB: "dag-pb",
    DAG_CBOR: "dag-cbor",
    DAG_JSON: "dag-json",
    LIBP2P_KEY: "libp2p-key",
    0x51: "cbor",
    0x0200: "json",
}
CODECS_BY_NAME: dict[str, int] = {name: code for code, name in CODEC_NAMES.items()}
HASH_NAMES: dict[int, str] = {SHA2_256: "sha2-256", IDENTITY: "identity", 0x13: "sha2-512", 0x1E: "blake3"}

encode_varint = encode_uvarint  # unsigned LEB128, as multiformats defines it

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def decode_varint(data: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode an unsigned varint at `offset`; returns (value, next offset). Minimal encoding, at most 9 bytes."""
    return decode_uvarint(data, offset, max_bytes=9, minimal=True)


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    num = int.from_bytes(data, "big")
    chars = []
    while num:
        num, rem = divmod(num, 58)
        chars.append(_B58_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(chars))


def b58decode(text: str) -> bytes:
    num = 0
    for char in text:
        try:
            num = num * 58 + _B58_INDEX[char]
        except KeyError:
            raise ValueError(f"invalid base58 character {char!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _b32decode(text: str) -> bytes:
    upper = text.upper()
    return base64.b32decode(upper + "=" * (-len(upper) % 8))


def multihash_sha256(data: bytes | memoryview) -> bytes:
    return b"\x12\x20" + hashlib.sha256(data).digest()


def _split_multihash(mh: bytes) -> tuple[int, bytes]:
    code, pos = decode_varint(mh)
    length, pos = decode_varint(mh, pos)
    digest = mh[pos:]
    if len(digest) != length:
        raise ValueError(f"multihash digest is {len(digest)} bytes but declares {length}")
    return code, digest


@dataclass(frozen=True, slots=True)
class Cid:
    """A content identifier: version, codec (multicodec code) and multihash bytes.

    `str(cid)` is the canonical text: base58btc for v0, base32 (multibase `b`) for v1, as Kubo prints.
    """

    version: int
    codec: int
    multihash: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCidError(f"unsupported CID version {self.version}", version=self.version)
        try:
            code, digest = _split_multihash(self.multihash)
        except ValueError as err:
            raise InvalidCidError(f"invalid multihash in CID: {err}") from err
        if self.version == 0 and (self.codec != DAG_PB or code != SHA2_256 or len(digest) != 32):
            raise InvalidCidError("a CIDv0 must be dag-pb with a 32-byte sha2-256 multihash")

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | Cid) -> Cid:
        """Parse a CID string (v0 `Qm...`, or v1 in base32 `b`/`B`, base58btc `z`, base16 `f`/`F`)."""
        if isinstance(text, Cid):
            return text
        if not isinstance(text, str) or not text:
            raise InvalidCidError(f"invalid CID {text!r}: empty or not a string", cid=str(text))
        try:
            if len(text) == 46 and text.startswith("Qm"):
                return cls(0, DAG_PB, b58decode(text))
            prefix, body = text[0], text[1:]
            if prefix in "bB":
                raw = _b32decode(body)
            elif prefix == "z":
                raw = b58decode(body)
            elif prefix in "fF":
                raw = bytes.fromhex(body)
            else:
                raise ValueError(f"unsupported multibase prefix {prefix!r}")
            cid = cls.from_bytes(raw)
            if cid.version == 0:
                raise ValueError("a multibase-prefixed CID must be v1")
            return cid
        except InvalidCidError as err:
            raise InvalidCidError(f"invalid CID {text!r}: {err.message}", cid=text) from err
        except (ValueError, TypeError) as err:
            raise InvalidCidError(f"invalid CID {text!r}: {err}", cid=text) from err

    @classmethod
    def from_bytes(cls, raw: bytes) -> Cid:
        """The binary form: a bare 34-byte sha2-256 multihash is v0; otherwise varint version, codec, multihash."""
        raw = bytes(raw)
        if len(raw) == 34 and raw[0] == 0x12 and raw[1] == 0x20:
            return cls(0, DAG_PB, raw)
        try:
            version, pos = decode_varint(raw)
            if version != 1:
                raise ValueError(f"CID version {version} is not supported")
            codec, pos = decode_varint(raw, pos)
        except ValueError as err:
            raise InvalidCidError(f"invalid binary CID {raw.hex()}: {err}", cid=raw.hex()) from err
        return cls(1, codec, raw[pos:])

    @classmethod
    def for_data(cls, data: bytes | memoryview, codec: int = RAW, version: int = 1) -> Cid:
        """The sha2-256 CID of `data` under `codec`."""
        return cls.trusted(version, codec, multihash_sha256(data))

    @classmethod
    def trusted(cls, version: int, codec: int, multihash: bytes) -> Cid:
        """A CID from parts the caller built itself and knows valid (a sha2-256 multihash it just computed):
        skips the checks of `__init__`, which cost more than hashing a small block."""
        cid = object.__new__(cls)
        object.__setattr__(cid, "version", version)
        object.__setattr__(cid, "codec", codec)
        object.__setattr__(cid, "multihash", multihash)
        return cid

    # -- views ----------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __str__(self) -> str:
        if self.version == 0:
            return b58encode(self.multihash)
        return "b" + _b32encode(self.to_bytes())

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"

    def encode(self, base: str = "base32") -> str:
        """Text in a given multibase: base32 (default for v1), base58btc, base16."""
        if self.version == 0:
            return b58encode(self.multihash)
        raw = self.to_bytes()
        if base == "base32":
            return "b" + _b32encode(raw)
        if base == "base58btc":
            return "z" + b58encode(raw)
        if base == "base16":
            return "f" + raw.hex()
        raise ValueError(f"unsupported multibase {base!r} (use base32, base58btc or base16)")

    @property
    def hash_code(self) -> int:
        return _split_multihash(self.multihash)[0]

    @property
    def digest(self) -> bytes:
        return _split_multihash(self.multihash)[1]

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES.get(self.codec, hex(self.codec))

    def to_v1(self) -> Cid:
        return Cid(1, self.codec, self.multihash)

    def to_v0(self) -> Cid:
        return Cid(0, self.codec, self.multihash)

    def verify(self, data: bytes | memoryview) -> bool:
        """Whether `data` hashes to this CID's multihash. Raises InvalidCidError for hashes we cannot compute."""
        code, digest = _split_multihash(self.multihash)
        if code == SHA2_256:
            return hashlib.sha256(data).digest() == digest
        if code == IDENTITY:
            return bytes(data) == digest
        raise InvalidCidError(
            f"cannot verify CID {self}: hash function {HASH_NAMES.get(code, hex(code))} is not supported "
            "(only sha2-256 and identity)",
            cid=str(self),
        )


def codec_code(name_or_code: str | int) -> int:
    """A multicodec code from a name like 'dag-cbor' (or pass a code through)."""
    if isinstance(name_or_code, int):
        return name_or_code
    try:
        return CODECS_BY_NAME[name_or_code]
    except KeyError:
        known = ", ".join(sorted(CODECS_BY_NAME))
        raise InvalidCidError(f"unknown codec {name_or_code!r} (known: {known})", codec=name_or_code) from None
