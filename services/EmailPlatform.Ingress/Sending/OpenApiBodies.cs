using Microsoft.OpenApi;

namespace EmailPlatform.Ingress.Sending;

internal static class OpenApiBodies
{
    /// <summary>
    /// Describes a JSON body that the handler reads itself (to turn every malformed body into a clear problem);
    /// routing-level <c>Accepts</c> metadata would instead answer 415 before authentication.
    /// </summary>
    public static RouteHandlerBuilder WithJsonRequestBody<T>(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
            };
        });
}
