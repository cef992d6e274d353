using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Reads;

/// <summary>
/// Serves the <c>/v1/emails</c> reads on the ingress's URL by forwarding them to the status service
/// (<c>Ingress:StatusUrl</c>), so clients configure one base URL for sending and reading. The caller's
/// API key goes along and the status service checks it again.
/// </summary>
public static class StatusForwarding
{
    public const string HttpClientName = "status";

    public static RouteGroupBuilder MapStatusForwarding(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/emails").WithTags("Emails").RequireAuthorization();
        group.MapGet("/{id}", ForwardAsync).WithName("GetEmailViaIngress").ExcludeFromDescription();
        group.MapGet("/", ForwardAsync).WithName("ListEmailsViaIngress").ExcludeFromDescription();
        return group;
    }

    internal static IServiceCollection AddStatusForwarding(this IServiceCollection services) =>
        services.AddHttpClient(HttpClientName, (sp, http) =>
            http.BaseAddress = sp.GetRequiredService<IOptions<IngressOptions>>().Value.StatusUrl).Services;

    private static async Task ForwardAsync(HttpContext context, IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, context.Request.Path + context.Request.QueryString);
        request.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
        await response.Content.CopyToAsync(context.Response.Body, cancellationToken);
    }
}
