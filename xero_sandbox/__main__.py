"""``python -m xero_sandbox --port 8765 [--data FILE] [--host 127.0.0.1]``."""

import argparse

from .server import SandboxServer


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m xero_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", help="JSON file to load the state from and save it to")
    parser.add_argument("--public-url", help="base URL as seen by clients (default http://HOST:PORT)")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--webhook-key")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        help="a redirect URI registered for the app (repeatable; replaces the defaults "
        "http://localhost:8069/... and http://127.0.0.1:8069/halo_xero/oauth/callback)",
    )
    parser.add_argument(
        "--registered",
        help="the app's registration date YYYY-MM-DD (before 2026-03-02: a "
        "legacy app that may ask for accounting.transactions)",
    )
    parser.add_argument("--no-limits", action="store_true", help="start with rate limits switched off")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = SandboxServer(
        port=args.port,
        host=args.host,
        data_file=args.data,
        client_id=args.client_id,
        client_secret=args.client_secret,
        webhook_key=args.webhook_key,
        limits_enabled=not args.no_limits,
        public_url=args.public_url,
        quiet=not args.verbose,
        redirect_uris=args.redirect_uris,
        registered=args.registered,
    )
    server.start()
    app = server.state.app
    print(
        "Xero sandbox on %s  (client_id=%s client_secret=%s, login demo@halo.example / demo)"
        % (server.url, app["client_id"], app["client_secret"]),
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
