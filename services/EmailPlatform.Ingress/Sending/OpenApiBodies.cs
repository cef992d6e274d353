using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace EmailPlatform.Ingress.Sending;

internal static class OpenApiBodies
{
    public const string SendExample = """
        {"from": "Acme <orders@acme.example>", "to": ["alice@example.com"], "subject": "Your order #1234",
         "html": "<p>Thanks for your order.</p>", "text": "Thanks for your order.",
         "tags": [{"name": "category", "value": "order"}], "metadata": {"order_id": "1234"}, "priority": "high",
         "expires_at": "2026-12-01T10:30:00Z"}
        """;

    public const string BatchExample = """
        [{"from": "orders@acme.example", "to": "alice@example.com", "subject": "Hi Alice", "text": "Hello."},
         {"from": "orders@acme.example", "to": "bob@example.com", "subject": "Hi Bob", "text": "Hello."}]
        """;

    public const string RawExample = """
        {"raw": "RnJvbTogb3JkZXJzQGFjbWUuZXhhbXBsZQ0KVG86IGFsaWNlQGV4YW1wbGUuY29tDQpTdWJqZWN0OiBIaQ0KDQpIZWxsby4NCg==",
         "mail_from": "bounces@acme.example", "rcpt_to": ["alice@example.com"], "scheduled_at": "2026-12-01T09:30:00Z",
         "expires_at": "2026-12-02T09:30:00Z"}
        """;

    public const string RescheduleExample = """{"scheduled_at": "2026-12-01T09:30:00Z"}""";

    public const string CreateApiKeyExample = """
        {"name": "orders-service", "scopes": ["send"], "allowed_sender_domains": ["acme.example"], "rate_limit_per_second": 50}
        """;

    /// <summary>
    /// Describes a JSON body that the handler reads itself (to turn every malformed body into a clear problem);
    /// routing-level <c>Accepts</c> metadata would instead answer 415 before authentication.
    /// </summary>
    public static RouteHandlerBuilder WithJsonRequestBody<T>(this RouteHandlerBuilder builder, string? example = null) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = schema, Example = example is null ? null : JsonNode.Parse(example) },
                },
            };
        });
}
