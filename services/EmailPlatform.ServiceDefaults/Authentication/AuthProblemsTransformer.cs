using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>
/// Documents the 401 (no key, or an unknown or revoked one) and 403 (a key without the scope) problems on every operation
/// that requires a key, so that no endpoint has to list them and none can forget them.
/// </summary>
internal sealed class AuthProblemsTransformer : IOpenApiOperationTransformer
{
    private static readonly (int Status, string Description)[] Problems =
    [
        (StatusCodes.Status401Unauthorized, "No API key, or one that is unknown or revoked."),
        (StatusCodes.Status403Forbidden, "The API key may not do this: it lacks the scope, or (on a send) the sender's domain is not one it may send from."),
    ];

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any())
        {
            return;
        }

        operation.Responses ??= [];
        foreach (var (status, description) in Problems)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses.ContainsKey(key))
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken);
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = schema } },
                };
            }
        }
    }
}
