using System.Text.Json;
using EmailPlatform.Ingress.Templates;

/// <summary>
/// An order confirmation as product teams write them: a subject with two variables, a table of line items (given as
/// one string, 'name;quantity;price' joined by '|', since template variables are strings, numbers and booleans),
/// conditionals for payment and VIP status, filters, and about 2 KB of inline-styled HTML.
/// </summary>
internal static class BenchTemplate
{
    private const string Html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Order {{ order_id }}</title></head>
        <body style="margin:0;padding:0;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#1f2937">
        <table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:24px 0">
        <tr><td align="center">
        <table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;border-radius:8px;padding:32px">
        <tr><td style="font-size:20px;font-weight:bold;padding-bottom:16px">Thanks for your order, {{ name | capitalize }}!</td></tr>
        <tr><td style="font-size:14px;line-height:22px;padding-bottom:16px">
        {% if vip %}<p style="margin:0 0 12px;color:#7c3aed">As a VIP member, your order ships with priority handling at no extra cost.</p>{% endif %}
        <p style="margin:0">We received order <strong>#{{ order_id }}</strong>. Here is what you bought:</p>
        </td></tr>
        <tr><td>
        <table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:14px">
        <tr style="background:#f9fafb;text-align:left"><th>Item</th><th style="text-align:right">Qty</th><th style="text-align:right">Price</th></tr>
        {% assign lines = items | split: "|" %}{% for line in lines %}{% assign cells = line | split: ";" %}
        <tr style="border-top:1px solid #e5e7eb{% if forloop.last %};border-bottom:1px solid #e5e7eb{% endif %}">
        <td>{{ cells[0] }}</td><td style="text-align:right">{{ cells[1] }}</td><td style="text-align:right">{{ cells[2] }} EUR</td></tr>{% endfor %}
        <tr><td colspan="2" style="text-align:right;font-weight:bold">Total</td><td style="text-align:right;font-weight:bold">{{ total | round: 2 }} EUR</td></tr>
        </table>
        </td></tr>
        <tr><td style="font-size:14px;line-height:22px;padding-top:16px">
        {% if paid %}<p style="margin:0">Your payment was received. We will email you again when your order ships.</p>
        {% else %}<p style="margin:0;color:#b91c1c">Your payment is pending: complete it within 48 hours to keep your order.</p>{% endif %}
        <p style="margin:16px 0 0"><a href="https://shop.example/orders/{{ order_id }}" style="background:#2563eb;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none">View your order</a></p>
        </td></tr>
        <tr><td style="font-size:12px;color:#6b7280;padding-top:24px">Questions? Reply to this email or visit https://shop.example/help. Acme Shop, 1 Example Street, Springfield.</td></tr>
        </table>
        </td></tr>
        </table>
        </body></html>
        """;

    public static TemplateVersionRecord Version() => new()
    {
        TemplateId = Guid.Parse("0195a3c2-0000-7000-8000-00000000b001"),
        Version = 1,
        Subject = "Order #{{ order_id }} confirmed{% if vip %} (VIP){% endif %}, {{ name | capitalize }}",
        Html = Html,
        Variables = """
            [
              {"name": "name", "type": "string", "required": true},
              {"name": "order_id", "type": "string", "required": true},
              {"name": "items", "type": "string", "required": true},
              {"name": "total", "type": "number", "required": true},
              {"name": "paid", "type": "boolean", "required": false, "default": true},
              {"name": "vip", "type": "boolean", "required": false, "default": false}
            ]
            """,
    };

    public static IReadOnlyDictionary<string, JsonElement> Variables() =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>("""
            {
              "name": "ada <b>lovelace</b>",
              "order_id": "A-10423",
              "items": "Ergonomic keyboard;1;89.00|Wireless mouse;2;24.50|USB-C hub;1;39.90|Monitor stand;1;45.00|Cable ties (50);3;4.99",
              "total": 238.87,
              "paid": false,
              "vip": true
            }
            """)!;
}
