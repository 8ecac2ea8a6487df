"""A real HTTP server on loopback that serves weight files, counts requests and can misbehave on purpose."""

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class WeightsServer:
    """Files by name; `truncate` names are cut in half after announcing their full length."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0  # a pause after every 1 MB sent: a slow link, to watch progress arrive

    def add(self, stem: str, data: bytes, *, prefix_of: bytes | None = None) -> str:
        """Serve `data` as `<stem>-<sha256 prefix>.pth` (the prefix of `prefix_of`, to serve a tampered file)."""
        name = f"{stem}-{hashlib.sha256(data if prefix_of is None else prefix_of).hexdigest()[:8]}.pth"
        self.files[name] = data
        return name


def serve(server: WeightsServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            server.requests.append(name)
            data = server.files.get(name)
            if data is None:
                self.send_error(404)
                return
            threading.Event().wait(server.delay_s)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            body = data[: len(data) // 2] if name in server.truncate else data
            for start in range(0, len(body), 1 << 20):
                self.wfile.write(body[start : start + (1 << 20)])
                threading.Event().wait(server.chunk_delay_s)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
