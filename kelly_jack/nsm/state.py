"""kelly's state inside an NSM session: ``<session path>/kelly.yaml``, a full kelly config.

The API hands each client a path (``<session>/<name>.<id>``); kelly uses it as
a folder and always the same file name in it, so the state can be moved to
another client by hand. The file is a copy of the config kelly was started with
(``--config``, or the defaults), with a relative ``backend.model`` made
absolute (a relative path written by hand is read from the session folder,
like any config's), and the user's valence, arousal, blend and ML switch as of
the last save. Every write goes to a temporary file that is renamed over the
old one: a crash never leaves a half-written state. Main or NSM thread.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config import load_config
from ..io import atomic_write
from ..shipped import DEFAULT

STATE_FILE = "kelly.yaml"
USER_KEYS = ("user_valence", "user_arousal", "blend", "ml_enabled")


def source_mapping(cfg: dict) -> dict:
    """The YAML mapping of the file ``cfg`` was loaded from ({} for the defaults), model path made absolute."""
    path = cfg.get("_source", {}).get("path", "<defaults>")
    if path.startswith("<"):
        return {}
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}  # validated already by load_config
    backend = raw.get("backend")
    model = backend.get("model") if isinstance(backend, dict) else None
    if isinstance(model, str) and model != DEFAULT and not Path(model).is_absolute():  # default: the shipped model
        backend["model"] = str((Path(path).parent / backend["model"]).resolve())
    return raw


class SessionState:
    """The state file of one NSM client: ``<path>/kelly.yaml``."""

    def __init__(self, path: str | Path):
        self.folder = Path(path)
        self.file = self.folder / STATE_FILE
        self._loaded: dict = {}

    def exists(self) -> bool:
        return self.file.exists()

    def create(self, cfg: dict, client_id: str) -> None:
        """Write a new state from the config kelly was started with; raises OSError."""
        raw = source_mapping(cfg)
        if isinstance(raw.get("client"), dict):
            raw["client"].pop("name", None)  # the session's client id is the JACK name
            if not raw["client"]:
                del raw["client"]
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file, self._text(raw, client_id), durable=True)

    def load(self) -> dict:
        """The session's config, validated (``ConfigError`` names kelly.yaml, line and key)."""
        cfg = load_config(self.file)
        self._loaded = yaml.safe_load(self.file.read_text(encoding="utf-8")) or {}  # a save's fallback
        return cfg

    def save(self, user: tuple[float, float, float, bool], client_id: str) -> None:
        """Write the user values into the state file, keeping the rest as it is on disk; raises OSError.

        The file is read again first: an edit made by hand (then SIGHUP) is not lost; a file deleted
        meanwhile is written again from what was loaded."""
        raw = yaml.safe_load(self.file.read_text(encoding="utf-8")) if self.file.exists() else self._loaded
        if not isinstance(raw, dict):
            raise OSError(f"{self.file}: not a mapping any more; not overwritten")
        emotion = raw.get("emotion")
        if not isinstance(emotion, dict):
            emotion = raw["emotion"] = {}
        v, a, b, ml = user
        v, a, b = (round(float(x), 6) for x in (v, a, b))  # plain floats: numpy scalars are not YAML
        emotion.update(user_valence=v, user_arousal=a, blend=b, ml_enabled=bool(ml))
        atomic_write(self.file, self._text(raw, client_id), durable=True)

    @staticmethod
    def _text(raw: dict, client_id: str) -> str:
        head = (
            f"# kelly-jack state of NSM client {client_id}: a kelly config. The JACK client name is the\n"
            "# client id and `connect:` is not applied (the session restores connections).\n"
            "# On save kelly writes the user values into it and keeps the rest; SIGHUP reloads the model from it.\n"
        )
        return head + yaml.safe_dump(raw, sort_keys=False, default_flow_style=False, allow_unicode=True)
