"""A tiny static server for dist/, bound to 127.0.0.1 on a free port.

Prints the port on its first line of output, then serves until killed. Used by
tests/web/run.sh; nothing here reaches another machine.
"""

import functools
import http.server
import socketserver
import sys


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
    }

    def log_message(self, *args):
        pass


def main():
    root = sys.argv[1]
    handler = functools.partial(QuietHandler, directory=root)
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
