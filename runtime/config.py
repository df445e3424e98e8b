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

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> "Settings":
        home = Path(home or os.environ.get("LOOM_HOME", "instance")).resolve()
        url = os.environ.get("LOOM_DATABASE_URL") or f"sqlite:///{home / 'loom.db'}"
        return cls(home, url, os.environ.get("LOOM_REDIS_URL"), int(os.environ.get("LOOM_MAX_UPLOAD_MB", "50")))

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    def secret_key(self) -> str:
        """A per-instance secret, generated once and kept in the instance folder."""
        env = os.environ.get("LOOM_SECRET_KEY")
        if env:
            return env
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
