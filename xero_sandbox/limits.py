"""Xero's API limits: per tenant 5 in flight, 60/minute, N/day; app-wide N/minute."""

import collections
import datetime as dt
import math
import threading
import time

DEFAULTS = {
    "enabled": True,
    "concurrent": 5,
    "minute": 60,
    "day": 5000,
    "app_minute": 10000,
    "use_sandbox_clock": False,
}


class RateLimited(Exception):
    """A breached limit: ``problem`` is the X-Rate-Limit-Problem value."""

    def __init__(self, problem: str, retry_after: int | None):
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


class RateLimiter:
    """Sliding-minute and daily counters. Minute windows run on real time unless configured."""

    def __init__(self, clock, enabled=True):
        self.clock = clock
        self._lock = threading.Lock()
        self.config = dict(DEFAULTS, enabled=enabled)
        self.reset()

    def reset(self):
        with self._lock:
            self.in_flight = collections.Counter()
            self.minute = collections.defaultdict(collections.deque)
            self.day = collections.Counter()  # (tenant, utc date) -> count
            self.app_minute = collections.deque()
        self.reset_usage()

    # -- usage counters (for tests and benches: what the organisation really saw) -----------------------
    def reset_usage(self):
        with self._lock:
            self.attempts = collections.defaultdict(list)  # tenant -> real times of every call that arrived
            self.peak_concurrent = collections.Counter()  # tenant -> most calls in flight at once (attempted)
            self.egress = collections.Counter()  # tenant -> response body bytes sent
            self.refused = collections.defaultdict(collections.Counter)  # tenant -> problem -> 429s

    def record_egress(self, tenant: str, size: int):
        with self._lock:
            self.egress[tenant] += int(size)

    def usage_report(self) -> dict:
        with self._lock:
            out = {}
            for tenant in set(self.attempts) | set(self.egress):
                times = sorted(self.attempts.get(tenant, []))
                peak, start = 0, 0
                for end, t in enumerate(times):
                    while times[start] <= t - 60:
                        start += 1
                    peak = max(peak, end - start + 1)
                out[tenant] = {
                    "calls": len(times),
                    "egress_bytes": self.egress.get(tenant, 0),
                    "peak_minute": peak,
                    "peak_concurrent": self.peak_concurrent.get(tenant, 0),
                    "refused": dict(self.refused.get(tenant, {})),
                }
            return out

    def configure(self, **values) -> dict:
        with self._lock:
            for key, value in values.items():
                if key not in DEFAULTS:
                    raise KeyError(key)
                self.config[key] = type(DEFAULTS[key])(value)
            return dict(self.config)

    def _now(self):
        return self.clock.now() if self.config["use_sandbox_clock"] else time.time()

    def _day_key(self, tenant):
        return tenant, dt.datetime.fromtimestamp(self.clock.now(), tz=dt.UTC).date().isoformat()

    def acquire(self, tenant: str) -> dict:
        """Count one call for ``tenant``; raise RateLimited on a breach. Returns the headers."""
        with self._lock:
            cfg, now = self.config, self._now()
            self.attempts[tenant].append(time.time())
            self.peak_concurrent[tenant] = max(self.peak_concurrent[tenant], self.in_flight[tenant] + 1)
            try:
                return self._acquire(tenant, cfg, now)
            except RateLimited as exc:
                self.refused[tenant][exc.problem] += 1
                raise

    def _acquire(self, tenant, cfg, now):
        window = self.minute[tenant]
        for dq in (window, self.app_minute):
            while dq and dq[0] <= now - 60:
                dq.popleft()
        if cfg["enabled"]:
            if self.day[self._day_key(tenant)] >= cfg["day"]:
                midnight = math.ceil(self.clock.now() / 86400) * 86400
                raise RateLimited("day", max(1, int(midnight - self.clock.now())))
            if len(self.app_minute) >= cfg["app_minute"]:
                raise RateLimited("appminute", max(1, math.ceil(self.app_minute[0] + 60 - now)))
            if len(window) >= cfg["minute"]:
                raise RateLimited("minute", max(1, math.ceil(window[0] + 60 - now)))
            if self.in_flight[tenant] >= cfg["concurrent"]:
                raise RateLimited("concurrent", 1)
        window.append(now)
        self.app_minute.append(now)
        self.day[self._day_key(tenant)] += 1
        self.in_flight[tenant] += 1
        return self._headers(tenant)

    def release(self, tenant: str):
        with self._lock:
            self.in_flight[tenant] -= 1

    def headers(self, tenant: str) -> dict:
        with self._lock:
            return self._headers(tenant)

    def _headers(self, tenant):
        cfg = self.config
        return {
            "X-DayLimit-Remaining": str(max(0, cfg["day"] - self.day[self._day_key(tenant)])),
            "X-MinLimit-Remaining": str(max(0, cfg["minute"] - len(self.minute[tenant]))),
            "X-AppMinLimit-Remaining": str(max(0, cfg["app_minute"] - len(self.app_minute))),
        }
