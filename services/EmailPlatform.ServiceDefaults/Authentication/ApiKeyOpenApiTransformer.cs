using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>
/// Documents the API key on every operation that requires one: its security requirement (the <c>bearer</c> scheme, so
/// that the interactive reference at <c>/docs</c> offers a field for the key) and its 401 (no key, or an unknown or
/// revoked one) and 403 (a key without the scope) problems, so that no endpoint has to list them and none can forget them.
/// </summary>
internal sealed class ApiKeyOpenApiTransformer : IOpenApiOperationTransformer, IOpenApiDocumentTransformer
{
    public const string SchemeName = "bearer";

    private static readonly (int Status, string Description)[] Problems =
    [
        (StatusCodes.Status401Unauthorized, "No API key, or one that is unknown or revoked."),
        (StatusCodes.Status403Forbidden, "The API key may not do this: it lacks the scope, or (on a send) the sender's domain is not one it may send from."),
    ];

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key: `Authorization: Bearer <key>`. The standalone host prints one at start-up.",
        };
        return Task.CompletedTask;
    }

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any())
        {
            return;
        }

        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
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
