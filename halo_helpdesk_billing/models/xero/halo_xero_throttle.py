# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Xero's limits per organisation (60 calls/min, 5 concurrent, 5,000/day) held by all Odoo workers and cron threads
of a database: one row per organisation in ``halo_xero_rate_limit``, read and updated under ``SELECT ... FOR UPDATE``
in a short transaction of its own (never the worker's: a rolled-back worker must not give back calls Xero has
counted, and the lock must not wait for the worker's commit)."""

import collections
import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid

import psycopg2

from odoo import fields, models, sql_db

from ...services import xero_client as xc

_logger = logging.getLogger(__name__)

IN_FLIGHT_TTL = 180.0  # seconds after which a call still "in flight" is forgotten (its worker died)
CONCURRENCY_POLL = 0.2  # seconds between two looks at the shared row while 5 calls are in flight


class HaloXeroRateLimit(models.Model):
    _name = "halo.xero.rate.limit"
    _description = "Xero API budget shared by all workers"

    key = fields.Char(required=True, readonly=True, help="Throttle scope and organisation (tenant id).")
    state = fields.Text(
        readonly=True, help="JSON: calls of the last minute, calls in flight, the day's count."
    )

    _key_unique = models.UniqueIndex("(key)")


class SharedThrottle(xc.ThrottleSlot):
    """The :class:`~..services.xero_client.Throttle` interface, shared through PostgreSQL.

    Every call first passes the process's own throttle ``local`` (its settings are the limits here too), then
    the organisation's row: at most ``per_minute`` calls in any 60 s, ``concurrent`` in flight and the daily
    budget (less the headroom) whatever the number of processes; a 429's Retry-After holds for all of them."""

    def __init__(self, dbname, local=None, clock=None, sleep=None):
        self.local = local if local is not None else xc.default_throttle()
        self.dbname = dbname
        # wall-clock time: a monotonic clock is not comparable between processes
        self.clock = clock or (time.time if self.local.clock is time.monotonic else self.local.clock)
        self.sleep = sleep or self.local.sleep
        self._held = collections.defaultdict(list)  # tenant -> tokens of this instance's calls in flight
        self._lock = threading.Lock()

    # -- the row --------------------------------------------------------------------------------------
    def _key(self, tenant_id):
        return "%s|%s" % (self.local.shared_scope or "", tenant_id or "")

    def _with_row(self, tenant_id, work):
        """``work(state)`` on the organisation's row, locked, in a transaction of its own; returns its result.
        If the database cannot be reached for it, the process's own throttle alone paces the call (logged)."""
        try:
            return self._with_row_locked(tenant_id, work)
        except psycopg2.OperationalError as err:
            _logger.warning("Shared Xero throttle unavailable (%s): pacing this process only", err)
            return 0.0

    def _with_row_locked(self, tenant_id, work):
        key = self._key(tenant_id)
        with contextlib.closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            # READ COMMITTED: the row lock orders the workers; a snapshot would fail them instead
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(
                """INSERT INTO halo_xero_rate_limit (key, state, create_date, write_date)
                          VALUES (%s, '{}', now() at time zone 'UTC', now() at time zone 'UTC')
                          ON CONFLICT (key) DO NOTHING""",
                [key],
            )
            cr.execute("SELECT state FROM halo_xero_rate_limit WHERE key = %s FOR UPDATE", [key])
            state = json.loads(cr.fetchone()[0] or "{}")
            try:
                result = work(state)
            finally:
                cr.execute(
                    "UPDATE halo_xero_rate_limit SET state = %s, write_date = now() at time zone 'UTC' "
                    "WHERE key = %s",
                    [json.dumps(state), key],
                )
                # its own short transaction on its own cursor, never the request's
                cr.commit()  # pylint: disable=invalid-commit
        return result

    def _today(self, now):
        return dt.datetime.fromtimestamp(now, tz=dt.UTC).date().isoformat()

    def _step(self, state, now, token):
        """Take one call if the organisation's budgets allow it (returns 0), else the seconds to wait."""
        local = self.local
        state["calls"] = [t for t in state.get("calls", []) if t > now - 60]
        state["flying"] = {k: t for k, t in state.get("flying", {}).items() if t > now - IN_FLIGHT_TTL}
        if state.get("day") != self._today(now):
            state.update(
                day=self._today(now), day_count=0, day_remaining=None, day_since=0, day_limit_seen=None
            )
        budget = local._day_limit()
        # the headroom of the smaller of the local ``daily`` and Xero's own daily limit (as the local throttle)
        limit = min(local.daily, state.get("day_limit_seen") or local.daily)
        reserve = limit - local._day_limit(limit)
        remaining = state.get("day_remaining")
        if state["day_count"] >= budget or (
            remaining is not None and remaining - state["day_since"] <= reserve
        ):
            midnight = (int(now // 86400) + 1) * 86400
            raise xc.XeroRetryLater(
                "The daily Xero API budget of this organisation is used up (all Odoo workers together); try "
                "again tomorrow.",
                retry_after=max(0.0, midnight - now),
                problem="day",
            )
        if state.get("not_before", 0) > now:
            return state["not_before"] - now
        if len(state["calls"]) >= local.per_minute:
            return state["calls"][0] + 60 - now
        if len(state["flying"]) >= local.concurrent:
            return CONCURRENCY_POLL
        state["calls"].append(now)
        state["flying"][token] = now
        state["day_count"] += 1
        state["day_since"] = state.get("day_since", 0) + 1
        return 0.0

    @staticmethod
    def _ended(state, token, now):
        """The call ``token`` is over: no longer in flight, and it stays in the minute's window until 60 s after
        it *ended*. Xero counts a call when it arrives, some time between our start and our end (a slow network,
        a busy worker): counted from its start, the 61st call made 60 s later could reach Xero while the first
        is still within Xero's minute (seen in real time with two worker processes: 429 answers)."""
        started = state.get("flying", {}).pop(token, None)
        calls = state.get("calls", [])
        if started is not None and started in calls:
            calls.remove(started)
            calls.append(max(now, started))
            calls.sort()

    # -- the Throttle interface ----------------------------------------------------------------------------
    def acquire(self, tenant_id):
        self.local.acquire(tenant_id)
        token = uuid.uuid4().hex
        try:
            while True:
                wait = self._with_row(tenant_id, lambda state: self._step(state, self.clock(), token))
                if wait <= 0:
                    break
                self.sleep(min(wait, 60.0))
        except BaseException:
            self.local.release(tenant_id)
            raise
        with self._lock:
            self._held[tenant_id or ""].append(token)

    def release(self, tenant_id):
        with self._lock:
            held = self._held[tenant_id or ""]
            token = held.pop() if held else None
        try:
            if token:
                now = self.clock()
                self._with_row(tenant_id, lambda state: self._ended(state, token, now))
        finally:
            self.local.release(tenant_id)

    def penalise(self, tenant_id, retry_after_seconds):
        self.local.penalise(tenant_id, retry_after_seconds)
        until = self.clock() + float(retry_after_seconds or 1)

        def work(state):
            state["not_before"] = max(state.get("not_before", 0), until)

        self._with_row(tenant_id, work)

    def remaining(self, tenant_id) -> dict:
        return self.local.remaining(tenant_id)

    def observe_headers(self, tenant_id, headers):
        self.local.observe_headers(tenant_id, headers)
        value = (headers or {}).get("X-DayLimit-Remaining")
        if value is None:
            return
        with contextlib.suppress(TypeError, ValueError):
            remaining = int(value)
            now = self.clock()

            def work(state):
                # Xero's own count of the day (every process's calls): the next calls are counted from it
                if state.get("day") != self._today(now):
                    state.update(day=self._today(now), day_count=0, day_limit_seen=None)
                seen = state.get("day_count", 0) + remaining
                state.update(
                    day_remaining=remaining,
                    day_since=0,
                    day_limit_seen=max(seen, state.get("day_limit_seen") or 0),
                )

            self._with_row(tenant_id, work)
