"""A Standard Webhooks receiver built on the specification's own Python library.

Listens on 127.0.0.1 (port 0: the chosen port is written to the file given as the first
argument), verifies each POST with `standardwebhooks.Webhook(secret).verify`, answers 204
when it verifies and 400 otherwise, and appends one line per message ("ok <webhook-id>" or
"bad <reason>") to the file given as the second argument. The secret comes from the
WEBHOOK_SECRET environment variable.
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook

PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2]
HOOK = Webhook(os.environ["WEBHOOK_SECRET"])


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            HOOK.verify(body, headers)
            line, status = "ok " + headers.get("webhook-id", "?"), 204
        except Exception as error:  # the library's WebhookVerificationError and any other
            line, status = "bad " + type(error).__name__ + ": " + str(error), 400
        with open(LOG_FILE, "a", encoding="utf-8") as log:
            log.write(line + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w", encoding="utf-8") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
