"""The client's config file: relay URL and token, written with 0600 permissions."""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from dataclasses import dataclass

from inboop_tui.store.paths import Paths, private_folder


class ConfigError(Exception):
    """The config file cannot be read; the message says where and what to do."""


@dataclass(frozen=True)
class ClientConfig:
    relay_url: str | None = None
    token: str | None = None
    user_name: str | None = None
    role: str | None = None  # ADMIN | MEMBER, as the relay said at login
    bell: bool = False  # ring the terminal bell with in-app notifications

    @property
    def is_configured(self) -> bool:
        return bool(self.relay_url and self.token)


def load_config(paths: Paths) -> ClientConfig:
    path = paths.config_file
    if not path.exists():
        return ClientConfig()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix it or run `inboop login` again") from exc
    relay = data.get("relay", {})
    settings = data.get("app", {})
    return ClientConfig(
        relay_url=_str(relay.get("url")),
        token=_str(relay.get("token")),
        user_name=_str(relay.get("user")),
        role=_str(relay.get("role")),
        bell=settings.get("bell") is True,
    )


def save_config(paths: Paths, config: ClientConfig) -> None:
    lines = ["[relay]"]
    for key, value in (
        ("url", config.relay_url),
        ("token", config.token),
        ("user", config.user_name),
        ("role", config.role),
    ):
        if value is not None:
            lines.append(
                f"{key} = {json.dumps(value)}"
            )  # a JSON string is a valid TOML basic string
    lines += ["", "[app]", f"bell = {'true' if config.bell else 'false'}"]
    tmp = paths.config_file.with_suffix(".tmp")
    try:
        private_folder(paths.config_dir)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, paths.config_file)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # never a half-written token left behind
        raise ConfigError(
            f"cannot save {paths.config_file} ({exc.strerror or exc}): check the folder's "
            "permissions and free disk space"
        ) from None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
