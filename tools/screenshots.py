"""Take the README's screenshots from a running demo (./demo.sh) with headless Chromium.

Usage: .cache/venv/bin/python tools/screenshots.py [http://localhost:8069] [http://127.0.0.1:8099]
(environment: HALO_DEMO_DB, the demo's database; HALO_CHROME_PORT, Chromium's debugging port, 9333)
Prepares a previewed billing run in the demo database over XML-RPC (as admin), then logs in
through the login page and captures: a ticket's Actions tab, the billing run preview, the Xero
sandbox's organisation page. Writes docs/screenshots/*.png.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

import websocket

ODOO = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8069"
SANDBOX = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8099"
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
DB = os.environ.get("HALO_DEMO_DB", "halo_demo")


def rpc():
    common = xmlrpc.client.ServerProxy(f"{ODOO}/xmlrpc/2/common")
    uid = common.authenticate(DB, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{ODOO}/xmlrpc/2/object", allow_none=True)
    return lambda model, method, *args, **kw: models.execute_kw(
        DB, uid, "admin", model, method, list(args), kw
    )


class Chrome:
    def __init__(self):
        self.profile = tempfile.mkdtemp()
        # several demos may run side by side: each its own debugging port
        port = int(os.environ.get("HALO_CHROME_PORT", "9333"))
        self.proc = subprocess.Popen(
            [
                shutil.which("chromium") or "chromium",
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={port}",
                "--window-size=1440,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                target = next(p for p in pages if p["type"] == "page")
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], suppress_origin=True)
        self.next_id = 0

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def js(self, expression):
        return (
            self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
            .get("result", {})
            .get("value")
        )

    def goto(self, url, wait_for, seconds=30):
        self.send("Page.navigate", url=url)
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.js(f"!!document.querySelector({json.dumps(wait_for)})"):
                time.sleep(1.0)
                return
            time.sleep(0.3)
        raise RuntimeError(f"{url}: {wait_for} did not appear")

    def shot(self, name):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        (OUT / name).write_bytes(base64.b64decode(data))
        print("wrote", OUT / name)

    def close(self):
        self.ws.close()
        self.proc.terminate()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    call = rpc()
    ticket_id = call(
        "account.analytic.line",
        "search_read",
        [("halo_ticket_id", "!=", False)],
        fields=["halo_ticket_id"],
        limit=1,
        order="id desc",
    )[0]["halo_ticket_id"][0]
    run_id = call("halo.billing.run", "create", {"note": "<p>Screenshot run</p>"})
    call("halo.billing.run", "action_preview", [run_id])
    chrome = Chrome()
    try:
        chrome.goto(f"{ODOO}/web/login", "input[name=login]")
        chrome.js(
            "document.querySelector('input[name=login]').value='admin';"
            "document.querySelector('input[name=password]').value='admin';"
            "document.querySelector('form').submit();"
        )
        time.sleep(3)
        chrome.goto(f"{ODOO}/odoo/helpdesk.ticket/{ticket_id}", ".o_form_view")
        chrome.js(
            "[...document.querySelectorAll('.o_notebook a.nav-link')].find(a => a.textContent.trim() === 'Actions').click()"
        )
        time.sleep(1.5)
        chrome.shot("ticket-actions.png")
        chrome.goto(
            f"{ODOO}/odoo/action-halo_helpdesk_billing.halo_billing_run_action/{run_id}",
            ".o_field_widget[name=line_ids] .o_data_row",
        )
        chrome.shot("billing-run-preview.png")
        chrome.goto(f"{SANDBOX}/", "body")
        chrome.shot("xero-sandbox.png")
    finally:
        chrome.close()
        call("halo.billing.run", "action_cancel", [run_id])


if __name__ == "__main__":
    main()
