using System.Net.Http.Headers;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Reads;

/// <summary>
/// Serves the <c>/v1/emails</c> reads on the ingress's URL by forwarding them to the status service
/// (<c>Ingress:StatusUrl</c>), so clients configure one base URL for everything. The ingress checks the caller's
/// key and its <c>read</c> scope (the keys live in its store) and calls the status service with the bootstrap
/// key, which is the only key the status service knows.
/// </summary>
public static class StatusForwarding
{
    public const string HttpClientName = "status";

    public static RouteGroupBuilder MapStatusForwarding(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/emails")
            .WithTags("Emails")
            .RequireAuthorization(ApiKeyScopes.Read)
            .AddRateLimit(routes);
        group.MapGet("/{id}", ForwardAsync).WithName("GetEmailViaIngress").ExcludeFromDescription();
        group.MapGet("/", ForwardAsync).WithName("ListEmailsViaIngress").ExcludeFromDescription();
        return group;
    }

    internal static IServiceCollection AddStatusForwarding(this IServiceCollection services) =>
        services.AddHttpClient(HttpClientName, (sp, http) =>
            http.BaseAddress = sp.GetRequiredService<IOptions<IngressOptions>>().Value.StatusUrl).Services;

    private static async Task<IResult> ForwardAsync(
        HttpContext context, IHttpClientFactory clients, IOptions<AuthOptions> auth, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, context.Request.Path + context.Request.QueryString);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auth.Value.BootstrapKey);

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException)
        {
            context.Response.Headers.RetryAfter = "5";
            return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, ApiProblems.ServiceUnavailable,
                "Service unavailable.", "The status service cannot be reached; retry in a few seconds.");
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
            await response.Content.CopyToAsync(context.Response.Body, cancellationToken);
            return Results.Empty;
        }
    }
}
