# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Markers by which the billing engine lets itself past its own integrity guards.

Any logged-in user can call any public method over JSON-RPC with any context keys, so a guard
that trusts ``context.get("some_key")`` holds only for callers who play nice. Each marker here
is a Python object put in the context under its key; a guard checks the value by identity
(``is``), and JSON cannot carry an object, so only server code that imports the marker can
pass it (the way OCA ``queue_job`` protects its job fields with a sentinel).

Use ``MARKER.on(records)`` around the engine's own writes and ``MARKER.is_set(env)`` in the guard.
"""


class EngineMarker:
    """One context key whose only accepted value is this object."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"<engine marker {self.key}>"

    def on(self, records):
        """``records`` with the marker in their context."""
        return records.with_context(**{self.key: self})

    def is_set(self, env):
        """Whether ``env``'s context holds the marker itself (not a value a client sent)."""
        return env.context.get(self.key) is self


# Billing states, runs and invoices of recorded work (halo.billable.mixin), and the charges
# of billing runs (halo.billing.run / halo.billing.run.line)
BILLING_ENGINE = EngineMarker("halo_billing_engine")
# Create actions without rating them (the caller rates them itself, in bulk)
NO_RATING = EngineMarker("halo_no_rating")
# Contract ledger entries other than adjustments (top-ups, consumption, rollover, expiry)
LEDGER_SYSTEM = EngineMarker("halo_contract_ledger_system")
# The billing run creating and posting its own invoices (bulk invoice and analytic lines)
BILLING_RUN = EngineMarker("halo_billing_run")
# The Xero push cron, which commits between the steps of a push
XERO_COMMIT = EngineMarker("halo_xero_commit")
# Cancelling invoices that are in Xero: their reset to draft on the way is allowed (they are voided or
# deleted in Xero by the push, see models/xero/account_move_xero.py)
XERO_CANCEL = EngineMarker("halo_xero_cancel")
# A ticket created by the mail gateway (message_new): a blocking contract flags it instead of
# failing the gateway
MAIL_GATEWAY = EngineMarker("halo_mail_gateway")
