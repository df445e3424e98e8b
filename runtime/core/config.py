"""Settings from the environment, with an embedded default that needs nothing installed."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    home: Path
    database_url: str
    redis_url: str | None = None
    max_upload_mb: int = 50
    smtp_url: str | None = None  # smtp://host:port for outgoing e-mail
    base_url: str | None = None  # how users reach this instance, for links in e-mails
    secret: str | None = None  # the session secret; None: LOOM_SECRET_KEY or the instance's own file
    session_hours: float = 8  # a signed-in session ends after this long without a request
    secure_cookies: bool | None = None  # cookies only over HTTPS; None: when base_url is https://
    disabled_plugins: tuple[str, ...] = ()  # installed plugins left out (LOOM_DISABLED_PLUGINS=a,b)
    audit_key: str | None = None  # keys the audit chain; kept outside the database (LOOM_AUDIT_KEY)

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> "Settings":
        home = Path(home or os.environ.get("LOOM_HOME", "instance")).resolve()
        url = os.environ.get("LOOM_DATABASE_URL") or f"sqlite:///{home / 'loom.db'}"
        secure = os.environ.get("LOOM_SECURE_COOKIES")
        return cls(home, url, os.environ.get("LOOM_REDIS_URL"), int(os.environ.get("LOOM_MAX_UPLOAD_MB", "50")),
                   os.environ.get("LOOM_SMTP_URL"), os.environ.get("LOOM_BASE_URL"),
                   session_hours=float(os.environ.get("LOOM_SESSION_HOURS", "8")),
                   secure_cookies=None if secure in (None, "") else secure.lower() in ("1", "true", "yes"),
                   disabled_plugins=tuple(n.strip() for n in os.environ.get("LOOM_DISABLED_PLUGINS", "").split(",")
                                          if n.strip()),
                   audit_key=os.environ.get("LOOM_AUDIT_KEY") or None)

    @property
    def https(self) -> bool:
        """Whether the session and remember cookies are sent over HTTPS only."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.base_url and self.base_url.startswith("https://"))

    def make_loom(self):
        """A Loom for these settings, its platform tables upgraded and its apps loaded."""
        from .loom import Loom
        self.home.mkdir(parents=True, exist_ok=True)
        loom = Loom(self.database_url, files_dir=self.files_dir, redis_url=self.redis_url,
                    smtp_url=self.smtp_url, base_url=self.base_url, plugins=self.plugin_host(),
                    audit_key=self.audit_key)
        loom.upgrade_db()
        loom.load()
        if os.environ.get("LOOM_ISOLATE_JOBS", "1") != "0":
            from .isolation import PoolConfig, ProcessPool
            loom.isolation = ProcessPool(PoolConfig(
                self.database_url, str(self.files_dir), self.redis_url, self.smtp_url, self.base_url,
                self.audit_key, self.disabled_plugins))
        return loom

    def plugin_host(self):
        """The installed plugins, less the disabled ones."""
        from runtime.extension import PluginHost
        return PluginHost(disabled=self.disabled_plugins)

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    def secret_key(self) -> str:
        """A per-instance secret, generated once and kept in the instance folder."""
        if self.secret:
            return self.secret
        env = os.environ.get("LOOM_SECRET_KEY")
        if env:
            return env
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
