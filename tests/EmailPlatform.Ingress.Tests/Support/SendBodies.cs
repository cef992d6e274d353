using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Sending;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>Send requests that pass validation, for tests to spoil one thing at a time.</summary>
internal static class SendBodies
{
    /// <summary>The default limits, now.</summary>
    public static SendLimits Limits => SendLimits.From(new IngressOptions(), TimeProvider.System);

    /// <summary>The smallest valid request, as the typed record the validator takes.</summary>
    public static SendEmailRequest Minimal() => new()
    {
        From = "billing@acme.test",
        To = ["alice@example.test"],
        Subject = "Your receipt",
        Text = "Thanks for your order.",
    };

    /// <summary>A valid wire body (snake_case JSON) of <c>POST /v1/emails</c>.</summary>
    public static JsonObject Json() => new()
    {
        ["from"] = "Acme Billing <billing@acme.test>",
        ["to"] = new JsonArray("alice@example.test"),
        ["subject"] = "Your receipt",
        ["html"] = "<p>Thanks for your order.</p>",
        ["text"] = "Thanks for your order.",
        ["headers"] = new JsonObject { ["X-Entity-Ref-ID"] = "order-42" },
        ["tags"] = new JsonArray(new JsonObject { ["name"] = "category", ["value"] = "receipt" }),
    };

    public static JsonObject Json(Action<JsonObject> change)
    {
        var json = Json();
        change(json);
        return json;
    }
}
