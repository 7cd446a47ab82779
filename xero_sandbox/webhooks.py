"""Signed webhook deliveries (at-least-once, retried) and the intent-to-receive check."""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import urllib.error
import urllib.request

from .xero_dates import iso_datetime


def sign(body: bytes, key: str) -> str:
    """``x-xero-signature``: base64(HMAC-SHA256(raw body, webhook key))."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def post(url: str, body: bytes, signature: str, timeout: float = 5.0) -> int:
    """POST one payload; returns the HTTP status (0 when the receiver could not be reached)."""
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "x-xero-signature": signature,
            "User-Agent": "Xero-Webhooks (sandbox)",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


class WebhookDispatcher:
    """Queues INVOICE/CONTACT events and delivers them (background thread or on demand)."""

    def __init__(self, sandbox, interval: float = 0.5):
        self.sandbox = sandbox
        self.state = sandbox.state
        self.interval = interval
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    # -- queueing -------------------------------------------------------------------------------
    def enqueue(self, tenant_id: str, events: list, now: float):
        """Queue ``(category, type, resource id)`` events of one organisation."""
        with self.state.lock:
            for category, kind, resource_id in events:
                path = {"INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}.get(category, "Contacts")
                self.state.webhook_queue.append(
                    {
                        "resourceUrl": "%s/api.xro/2.0/%s/%s" % (self.sandbox.url, path, resource_id),
                        "resourceId": resource_id,
                        "eventDateUtc": iso_datetime(now, 3),
                        "eventType": kind,
                        "eventCategory": category,
                        "tenantId": tenant_id,
                        "tenantType": "ORGANISATION",
                        "attempts": 0,
                    }
                )
            auto = self.state.webhook["auto"] and self.state.webhook["url"]
        if auto:
            self._wake.set()

    # -- delivery -------------------------------------------------------------------------------
    def deliver(self, duplicate: bool = False, reverse: bool = False) -> list:
        """Deliver everything pending now. One payload per call unless ``reverse`` (one per event,
        newest first: out of order); ``duplicate`` sends every payload twice. Returns the results."""
        with self._deliver_lock:
            with self.state.lock:
                cfg = dict(self.state.webhook)
                pending, self.state.webhook_queue = self.state.webhook_queue, []
            if not pending or not cfg["url"]:
                with self.state.lock:
                    self.state.webhook_queue[:0] = pending
                return []
            batches = [[e] for e in reversed(pending)] if reverse else [pending]
            results, retry = [], []
            for batch in batches:
                with self.state.lock:
                    first = self.state.webhook["sequence"] + 1
                    self.state.webhook["sequence"] += len(batch)
                payload = {
                    "events": [{k: v for k, v in e.items() if k != "attempts"} for e in batch],
                    "firstEventSequence": first,
                    "lastEventSequence": first + len(batch) - 1,
                    "entropy": secrets.token_hex(10).upper(),
                }
                body = json.dumps(payload).encode()
                statuses = [
                    post(cfg["url"], body, sign(body, cfg["key"])) for _ in range(2 if duplicate else 1)
                ]
                ok = statuses[0] == 200
                results.append({"status": statuses, "ok": ok, "events": len(batch), "payload": payload})
                if not ok:
                    for event in batch:
                        event["attempts"] += 1
                        if event["attempts"] < cfg["max_attempts"]:
                            retry.append(event)
                        else:
                            results[-1].setdefault("dropped", 0)
                            results[-1]["dropped"] += 1
            with self.state.lock:
                self.state.webhook_queue[:0] = retry
                self.state.webhook_log.extend({k: v for k, v in r.items() if k != "payload"} for r in results)
                del self.state.webhook_log[:-200]
            return results

    def intent_to_receive(self, rounds: int = 4) -> dict:
        """Xero's ITR check: empty-event payloads, alternately signed with the right and a wrong key.
        The receiver passes if it answers 200 to every good one and 401 to every bad one."""
        with self.state.lock:
            cfg = dict(self.state.webhook)
        if not cfg["url"]:
            return {"ok": False, "error": "no webhook url configured", "results": []}
        results = []
        for n in range(rounds):
            good = n % 2 == 0
            body = json.dumps(
                {
                    "events": [],
                    "firstEventSequence": 0,
                    "lastEventSequence": 0,
                    "entropy": secrets.token_hex(10).upper(),
                }
            ).encode()
            key = cfg["key"] if good else cfg["key"] + "-wrong"
            status = post(cfg["url"], body, sign(body, key))
            results.append(
                {"signed_correctly": good, "status": status, "ok": status == (200 if good else 401)}
            )
        return {"ok": all(r["ok"] for r in results), "results": results}

    # -- background thread -----------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._run, name="xero-sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self):
        while not self._stop.is_set():
            self._wake.wait(timeout=self.interval * 4)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._stop.wait(self.interval)  # batch events that arrive together
            with self.state.lock:
                active = self.state.webhook["auto"] and self.state.webhook["url"] and self.state.webhook_queue
            if active:
                self.deliver()
