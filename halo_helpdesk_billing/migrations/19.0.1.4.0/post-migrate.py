# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoices go to Xero in background jobs (queue_job, channel ``root.halo_xero``) enqueued when they are
queued; the push cron became their safety net and sends only what is still queued 10 minutes later. Its
scheduled action is a ``noupdate`` record, so its code is set here; invoices queued before the upgrade have
no queuing time and stay the cron's (nothing is enqueued for them)."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)

OLD_CODE = "model._cron_halo_xero_push()"
NEW_CODE = "model._cron_halo_xero_push(grace_minutes=10)"


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    cron = env.ref("halo_helpdesk_billing.ir_cron_halo_xero_push", raise_if_not_found=False)
    if not cron:
        return
    if (cron.code or "").strip() == OLD_CODE:
        cron.code = NEW_CODE
        _logger.info("Xero push cron: now the safety net of the push jobs (%s)", NEW_CODE)
    else:  # changed by the user: theirs to keep
        _logger.info("Xero push cron: code left as the user set it (%s)", cron.code)
