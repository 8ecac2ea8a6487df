"""What the public server allows, read once from the environment: hosts, origins, body sizes, queue shares, temp space.

Every limit has an environment variable; README's "Security defaults" lists them. Defaults suit a
2-core CPU Space: a few queued jobs per client, small JSON bodies, two images per upload.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from snapmix_demo.imageio import MAX_BYTES
from snapmix_demo.weights import user

__all__ = ["LOOPBACK_NAMES", "ServerSettings", "checkpoint_uploads", "is_loopback"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an IP literal, no port) names this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checkpoint_uploads(env: Mapping[str, str] | None = None) -> bool:
    """Whether users may upload their own checkpoints: yes unless `SNAPMIX_CHECKPOINT_UPLOADS=off`."""
    env = os.environ if env is None else env
    return env.get("SNAPMIX_CHECKPOINT_UPLOADS", "on").strip().lower() not in ("off", "0", "false", "no")


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in (value or "").split(",") if item.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(env.get(name, default))


@dataclass(frozen=True)
class ServerSettings:
    """The server's limits; `from_env` reads them, tests build their own."""

    # Who may talk to the server
    bind: str = "127.0.0.1"  # where it listens: loopback, or all interfaces (Spaces: 0.0.0.0)
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES  # Host header names, "*.suffix" patterns, or "*" for any
    allowed_origins: tuple[str, ...] = ()  # Origins besides the page's own that may POST (e.g. an embedding site)
    # How much one request may carry
    max_body: int = 64 * 1024  # any request body but an upload, refused before parsing when larger
    upload_files: int = 2  # files in one upload request: one run needs two images
    checkpoint_max: int = user.CHECKPOINT_MAX_BYTES  # bytes of one uploaded checkpoint; 0 when uploads are off
    # How much of the queue one client may hold, and when a waiting job counts as abandoned
    queue_per_session: int = 4
    queue_per_ip: int = 16  # several people behind one NAT (a classroom) share an address
    proxy_hops: int = 0  # proxies in front that append to X-Forwarded-For (Spaces: 1)
    stream_grace_s: float = 10.0  # a queued job whose client opened no result stream this long is dropped
    # Memory and disk
    session_capacity: int = 100  # Gradio keeps ~0.2 MB of state per session: at most this many sessions
    temp_cap: int = 1024**3  # bytes in Gradio's temp folder; uploads are refused while it is full
    temp_max_age_s: int = 3600  # files older than this are swept
    sweep_every_s: float = 60.0

    @property
    def loopback_only(self) -> bool:
        """Bound to loopback: IP-literal Hosts must be loopback too (elsewhere any IP literal is fine)."""
        return is_loopback(self.bind)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServerSettings":
        """Settings from `SNAPMIX_*` variables, Gradio's GRADIO_SERVER_NAME and the ones Spaces sets."""
        env = os.environ if env is None else env
        on_spaces = env.get("SYSTEM") == "spaces"
        space_hosts = _csv(env.get("SPACE_HOST")) or (("*.hf.space",) if on_spaces else ())
        return cls(
            bind=env.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            allowed_hosts=LOOPBACK_NAMES + space_hosts + _csv(env.get("SNAPMIX_ALLOWED_HOSTS")),
            allowed_origins=_csv(env.get("SNAPMIX_ALLOWED_ORIGINS")),
            max_body=_int(env, "SNAPMIX_MAX_BODY_KB", 64) * 1024,
            checkpoint_max=user.CHECKPOINT_MAX_BYTES if checkpoint_uploads(env) else 0,
            queue_per_session=_int(env, "SNAPMIX_QUEUE_PER_SESSION", cls.queue_per_session),
            queue_per_ip=_int(env, "SNAPMIX_QUEUE_PER_IP", cls.queue_per_ip),
            proxy_hops=_int(env, "SNAPMIX_PROXY_HOPS", 1 if on_spaces else 0),
            session_capacity=_int(env, "SNAPMIX_SESSION_CAPACITY", cls.session_capacity),
            temp_cap=_int(env, "SNAPMIX_TEMP_CAP_MB", 1024) * 1024 * 1024,
            temp_max_age_s=_int(env, "SNAPMIX_TEMP_MAX_AGE_S", cls.temp_max_age_s),
        )

    @property
    def max_file(self) -> int:
        """Bytes of one uploaded file: a checkpoint's cap when they may be uploaded, else an image's.

        Gradio's `max_file_size` applies to every upload alike; the decoder still refuses images over theirs.
        """
        return max(MAX_BYTES, self.checkpoint_max)

    @property
    def max_upload_body(self) -> int:
        """Bytes of one upload request: its files at the image cap or one checkpoint, plus the multipart framing."""
        return max(self.upload_files * MAX_BYTES, self.checkpoint_max) + self.max_body
