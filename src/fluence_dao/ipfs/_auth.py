"""The IPFS RPC API token: Kubo's `API.Authorizations` convention, on both sides.

A client sends `Authorization: Bearer <token>` (or `Basic base64(user:token)`). The secret a client is given
follows Kubo's `AuthSecret` forms: a bare token or `bearer:<token>` is sent as Bearer, `basic:<user>:<password>`
as Basic (`basic:<base64>` as given). `fluence-dao ipfs serve` checks the token on every command that changes
the repo; the devnet keeps its server's token in `<state_dir>/ipfs/api-token` (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fluence_dao.errors import IpfsError

if TYPE_CHECKING:
    from pydantic import SecretStr

log = logging.getLogger(__name__)

API_TOKEN_FILE = "api-token"
MIN_SERVER_TOKEN_CHARS = 16
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def api_token_path(state_dir: Path) -> Path:
    """Where the devnet's IPFS server keeps its token: `<state_dir>/ipfs/api-token`."""
    return Path(state_dir) / "ipfs" / API_TOKEN_FILE


def _check_token_text(token: str, source: str) -> str:
    if not token:
        raise IpfsError(f"the IPFS API token from {source} is empty", source=source)
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        raise IpfsError(
            f"the IPFS API token from {source} must be printable ASCII without spaces (it goes into an HTTP header)",
            source=source,
        )
    return token


def _reveal(secret: str | SecretStr) -> str:
    return secret if isinstance(secret, str) else secret.get_secret_value()


def authorization_header(secret: str | SecretStr) -> str:
    """The `Authorization` header value for a Kubo `AuthSecret`: `tok` or `bearer:tok` -> `Bearer tok`,
    `basic:user:pw` -> `Basic base64(user:pw)`, `basic:<base64>` -> `Basic <base64>`."""
    value = _reveal(secret)
    scheme, sep, rest = value.partition(":")
    if sep and scheme.lower() == "basic":
        if ":" in rest:
            rest = base64.b64encode(rest.encode("utf-8")).decode("ascii")
        return "Basic " + _check_token_text(rest, "the basic: secret")
    if sep and scheme.lower() == "bearer":
        return "Bearer " + _check_token_text(rest, "the bearer: secret")
    if sep:
        # Kubo refuses unknown types too; the value is not echoed (it may be a secret).
        raise IpfsError(
            f"unknown IPFS API secret type {scheme!r}: use a bare token, bearer:<token> or basic:<user>:<password>"
        )
    return "Bearer " + _check_token_text(value, "the configured secret")


def token_matches(header: str | None, token: str) -> bool:
    """True when an `Authorization` header carries `token`: `Bearer <token>`, or `Basic` with `token` as the
    password (any user name). Compared in constant time."""
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    expected = token.encode("utf-8")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.encode("utf-8", "replace"), expected)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return False
        _, sep, password = decoded.partition(b":")
        return bool(sep) and hmac.compare_digest(password, expected)
    return False


def new_api_token() -> str:
    """A fresh random token (256 bits, URL-safe base64)."""
    return secrets.token_urlsafe(32)


def ensure_api_token_file(path: Path) -> bool:
    """Create `path` holding a new random token (mode 0600, its directory 0700) unless it exists; an existing
    one is kept (so clients keep working across `devnet up`) and its mode tightened to 0600. True if created."""
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise IpfsError(
                f"the IPFS API token file {path} is not a regular file: remove it", path=str(path)
            ) from None
        if info.st_mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("tightened the IPFS API token file %s from %o to 600", path, stat.S_IMODE(info.st_mode))
        read_api_token_file(path)  # fails now, naming the file, when its content is unusable
        return False
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(new_api_token() + "\n")
    log.info("created the IPFS API token file %s", path)
    return True


def read_api_token_file(path: Path) -> str:
    """The token in `path` (surrounding whitespace stripped); IpfsError naming the file when it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise IpfsError(f"IPFS API token file {path} does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise IpfsError(f"cannot read the IPFS API token file {path}: {reason}", path=str(path)) from None
    return _check_token_text(text.strip(), str(path))


def load_server_token(path: Path) -> str:
    """The token a server checks: the file must be readable by its owner only and hold at least
    MIN_SERVER_TOKEN_CHARS characters."""
    path = Path(path)
    token = read_api_token_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IpfsError(
            f"the IPFS API token file {path} has mode {mode:o}: other users can read it; run `chmod 600 {path}`",
            path=str(path),
        )
    if len(token) < MIN_SERVER_TOKEN_CHARS:
        raise IpfsError(
            f"the IPFS API token in {path} has {len(token)} characters; use at least {MIN_SERVER_TOKEN_CHARS} "
            "(remove the file and a random one is created)",
            path=str(path),
        )
    return token


def api_token_for(state_dir: Path, configured: SecretStr | str | None, *, api_url: str | None = None) -> str | None:
    """The secret to send to the IPFS RPC API: `configured` (settings' ipfs.api_token) when set, else the
    devnet's `<state_dir>/ipfs/api-token` when it exists, else None. The devnet's token is never sent to a host
    that is not loopback (`api_url`, when given, decides)."""
    configured = _reveal(configured) if configured is not None else None
    if configured:
        return configured
    if api_url is not None and urlsplit(api_url).hostname not in _LOOPBACK_HOSTS:
        return None
    path = api_token_path(state_dir)
    if not path.exists():
        return None
    return read_api_token_file(path)
