#!/usr/bin/env python3
"""A test server that redirects: any request to /redirect answers 307 to /target on the same
server; /target answers 200 and counts its hits; /hits answers that count. Prints
`listening on 127.0.0.1:PORT` once it listens (port 0: any free one). Used by scripts/swift.sh
for the test that URLSessionSender never follows a redirect."""
import http.server
import sys

hits = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        global hits
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/redirect"):
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/target"):
            hits += 1
        body = str(hits).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
