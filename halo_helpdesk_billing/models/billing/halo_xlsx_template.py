# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import base64

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ...services import xlsx_invoice


class HaloXlsxTemplate(models.Model):
    """An Excel invoice template uploaded in the UI (placeholders documented on the form)."""

    _name = "halo.xlsx.template"
    _description = "Excel Invoice Template"
    _order = "is_default desc, name, id"

    name = fields.Char(required=True)
    company_id = fields.Many2one(comodel_name="res.company")
    is_default = fields.Boolean(
        string="Company Default", help="Used for customers that have no template of their own."
    )
    datas = fields.Binary(string="Template (.xlsx)", required=True, attachment=True)
    filename = fields.Char()
    partner_ids = fields.One2many(
        comodel_name="res.partner", inverse_name="halo_xlsx_template_id", string="Customers"
    )

    @api.constrains("datas")
    def _check_datas(self):
        for template in self.filtered("datas"):
            try:
                xlsx_invoice.fill_template(base64.b64decode(template.datas), {}, [])
            except xlsx_invoice.TemplateError as err:
                raise ValidationError(
                    self.env._(
                        "Template %(name)s is not a usable .xlsx workbook: %(error)s",
                        name=template.name,
                        error=err,
                    )
                ) from err
