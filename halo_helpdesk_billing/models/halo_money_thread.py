# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Chatter of the documents whose messages carry money: contracts and billing runs.

Technicians may read these documents (the ticket's contract banner, the run a piece of work
is in) but not their messages: outside the billing groups, reading a message of one needs
the right to edit the document, which technicians never have. Following such a document notifies billing staff
and external partners (the customer's contacts) only, never an internal user outside the
billing groups; code that names recipients of a message with money (the threshold e-mail)
leaves those users out itself.

The helpers here are called by the overrides in each model (``contracts/halo_contract.py``,
``billing/halo_billing_run.py``), not by a shared abstract model: ``mail.thread`` would come
first in the method resolution order.
"""

from odoo.addons.halo_helpdesk_billing.constants import BILLING_USER


def billing_user_ids(env):
    return set(env.ref(BILLING_USER).sudo().all_user_ids.ids)


def read_needs_write(env, operations, message_operation):
    """Reading the messages of these documents: billing users as usual (read access), anyone
    else only with the right to edit the document (technicians read but never edit them)."""
    if message_operation == "read" and not env.user.has_group(BILLING_USER):
        return dict.fromkeys(operations, "write")
    return operations


def billing_recipients(env, recipients, message, msg_vals):
    """Recipients without the internal users outside the billing groups who would be notified
    as followers; partners the message names (``partner_ids``) were chosen by the code or the
    billing user who posted it."""
    msg_vals = msg_vals or {}
    named = set(
        (msg_vals["partner_ids"] or []) if "partner_ids" in msg_vals else message.sudo().partner_ids.ids
    )
    billing_uids = billing_user_ids(env)
    return [
        recipient
        for recipient in recipients
        if recipient["id"] in named
        or not recipient.get("uid")
        or recipient.get("ushare")
        or recipient["uid"] in billing_uids
    ]
