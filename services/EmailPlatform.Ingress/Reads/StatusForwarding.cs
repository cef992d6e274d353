using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Reads;

/// <summary>
/// Serves the status service's API on the ingress's URL by forwarding it (<c>Ingress:StatusUrl</c>): the email
/// reads, webhooks, suppressions, recipient erasure, bulk operations and bounce reports, so clients configure one base URL for everything. The
/// ingress checks the caller's key and the scope each route needs (the keys live in its store) and calls the
/// status service with the bootstrap key, which is the only key the status service knows.
/// </summary>
public static class StatusForwarding
{
    public const string HttpClientName = "status";

    /// <summary>The problem name of a forwarded request the status service did not answer in time (504).</summary>
    internal const string GatewayTimeout = "gateway_timeout";

    public static IEndpointRouteBuilder MapStatusForwarding(this IEndpointRouteBuilder routes)
    {
        var emails = routes.MapGroup("/v1/emails").WithTags("Emails").RequireAuthorization(ApiKeyScopes.Read).AddRateLimit(routes);
        emails.MapGet("/{id}", GetEmailAsync).WithName("GetEmailViaIngress").ExcludeFromDescription();
        emails.MapGet("/", ForwardAsync).WithName("ListEmailsViaIngress").ExcludeFromDescription();

        var webhooks = routes.MapGroup("/v1/webhooks").RequireAuthorization(ApiKeyScopes.Admin).AddRateLimit(routes).ExcludeFromDescription();
        webhooks.MapMethods("/", [HttpMethods.Get, HttpMethods.Post], ForwardAsync);
        webhooks.MapMethods("/{**rest}", [HttpMethods.Get, HttpMethods.Post, HttpMethods.Patch, HttpMethods.Delete], ForwardAsync);

        var suppressions = routes.MapGroup("/v1/suppressions").AddRateLimit(routes).ExcludeFromDescription();
        suppressions.MapGet("/", ForwardAsync).RequireAuthorization(ApiKeyScopes.Read);
        suppressions.MapGet("/{**rest}", ForwardAsync).RequireAuthorization(ApiKeyScopes.Read);
        suppressions.MapMethods("/{**rest}", [HttpMethods.Put, HttpMethods.Post, HttpMethods.Delete], ForwardAsync)
            .RequireAuthorization(ApiKeyScopes.Admin);

        var recipients = routes.MapGroup("/v1/recipients").RequireAuthorization(ApiKeyScopes.Admin).AddRateLimit(routes).ExcludeFromDescription();
        recipients.MapDelete("/{address}", ForwardAsync);

        // Bulk retry and cancel by filter (POST /v1/bulk/retry, /v1/bulk/cancel), dry runs included.
        var bulk = routes.MapGroup("/v1/bulk").RequireAuthorization(ApiKeyScopes.Admin).AddRateLimit(routes).ExcludeFromDescription();
        bulk.MapPost("/{**rest}", ForwardAsync);

        // Delivery status notifications that came back after a relay accepted the message (message/rfc822).
        var bounces = routes.MapGroup("/v1/bounces").RequireAuthorization(ApiKeyScopes.Admin).AddRateLimit(routes).ExcludeFromDescription();
        bounces.MapPost("/", ForwardAsync);

        // Feedback loop complaint reports (RFC 5965, message/rfc822).
        var complaints = routes.MapGroup("/v1/complaints").RequireAuthorization(ApiKeyScopes.Admin).AddRateLimit(routes).ExcludeFromDescription();
        complaints.MapPost("/", ForwardAsync);
        return routes;
    }

    /// <summary>How long connecting to the status service may take: one that is down is a 503 within this, whatever <c>Ingress:StatusTimeout</c>.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The forwarding client, without the standard resilience handler that <c>AddServiceDefaults</c> gives every client:
    /// what it forwards includes admin operations that run in the request (an erasure over hundreds of thousands of
    /// emails, a bulk retry of thousands), which its 10 s attempt timeout cut off with a false 503 while cancelling them
    /// on the status service; its retries ran a slow search up to four times; and its circuit breaker, counting those
    /// timeouts, then turned every forwarded read into a 503. Nothing is retried here (the client decides, and a POST,
    /// PATCH or DELETE must not be repeated behind its back), and the wait is <c>Ingress:StatusTimeout</c>, applied in
    /// <see cref="SendAsync"/> so that it can be told from a failed connect.
    /// </summary>
    internal static IServiceCollection AddStatusForwarding(this IServiceCollection services)
    {
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it undoes AddServiceDefaults' standard handler.
#pragma warning disable EXTEXP0001
        services.AddHttpClient(HttpClientName, (sp, http) =>
            {
                http.BaseAddress = sp.GetRequiredService<IOptions<IngressOptions>>().Value.StatusUrl;
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromTicks(Math.Min(ConnectTimeout.Ticks, sp.GetRequiredService<IOptions<IngressOptions>>().Value.StatusTimeout.Ticks)),
            });
        return services;
    }

    /// <summary>
    /// The header of the status service's answer for an email whose outcomes it recorded before its details, with the
    /// value <see cref="DetailsPending"/> (its <c>EmailsEndpoints.DetailsHeader</c>).
    /// </summary>
    internal const string DetailsHeader = "Email-Details";

    internal const string DetailsPending = "pending";

    /// <summary>
    /// <c>GET /v1/emails/{id}</c>: the status service's answer, except that an email it does not know yet (accepted a
    /// moment ago, its events still on their way) is answered from the ingress's outbox (<see cref="PendingEmails"/>), and
    /// one it knows only the outcomes of (they came before its details) gets the outbox's details merged in.
    /// </summary>
    private static Task<IResult> GetEmailAsync(
        string id, HttpContext context, IHttpClientFactory clients, IOptions<AuthOptions> auth, IngressDbContext db, TimeProvider clock,
        CancellationToken cancellationToken) =>
        ExchangeAsync(context, clients, auth, async (response, deadline) =>
        {
            if (response.StatusCode == HttpStatusCode.NotFound && Guid.TryParse(id, out var emailId)
                && await PendingEmails.FindAsync(db, emailId, clock, deadline) is { } pending)
            {
                return TypedResults.Json(pending, WireJson.Options);
            }

            if (response.StatusCode == HttpStatusCode.OK && Guid.TryParse(id, out var partialId)
                && response.Headers.TryGetValues(DetailsHeader, out var details) && details.Contains(DetailsPending, StringComparer.OrdinalIgnoreCase))
            {
                var recorded = await response.Content.ReadFromJsonAsync<JsonObject>(deadline);
                return recorded is not null && await PendingEmails.FindAsync(db, partialId, clock, deadline) is { } accepted
                    ? TypedResults.Json(PendingEmails.Merge(accepted, recorded), WireJson.Options)
                    : TypedResults.Json(recorded, WireJson.Options);
            }

            return await CopyAsync(response, context, deadline);
        }, cancellationToken);

    private static Task<IResult> ForwardAsync(
        HttpContext context, IHttpClientFactory clients, IOptions<AuthOptions> auth, CancellationToken cancellationToken) =>
        ExchangeAsync(context, clients, auth, (response, deadline) => CopyAsync(response, context, deadline), cancellationToken);

    /// <summary>
    /// The request forwarded and the status service's answer handled by <paramref name="answer"/>, all of it within
    /// <c>Ingress:StatusTimeout</c>: the answer's body too, which the status service may stop sending half way (a
    /// partition, a stalled process). Past the deadline the client gets a 504 problem while nothing of the answer has been
    /// sent on, and its connection is aborted once something has (a 200 whose body stops short, which its HTTP client
    /// reports as an error), rather than waiting with it for as long as the status service holds the connection open.
    /// </summary>
    private static async Task<IResult> ExchangeAsync(
        HttpContext context, IHttpClientFactory clients, IOptions<AuthOptions> auth,
        Func<HttpResponseMessage, CancellationToken, Task<IResult>> answer, CancellationToken cancellationToken)
    {
        var timeout = context.RequestServices.GetRequiredService<IOptions<IngressOptions>>().Value.StatusTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var (response, unavailable) = await SendAsync(context, clients, auth, timeout, deadline, cancellationToken);
        if (response is null)
        {
            return unavailable!;
        }

        using (response)
        {
            try
            {
                return await answer(response, deadline.Token);
            }
            catch (Exception ex) when ((ex is OperationCanceledException or HttpRequestException or IOException)
                && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                if (!context.Response.HasStarted)
                {
                    context.Response.Clear();
                    return TimedOut(timeout);
                }

                // The route, not the path: a path may hold an address (an erasure, a suppression).
                Log.StatusAnswerCutOff(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StatusForwarding)),
                    context.Request.Method, (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText, timeout.TotalSeconds);
                context.Abort();
                return Results.Empty;
            }
        }
    }

    private static IResult TimedOut(TimeSpan timeout) =>
        ApiProblems.Problem(StatusCodes.Status504GatewayTimeout, GatewayTimeout,
            "Gateway timeout.", $"The status service did not answer within {timeout.TotalSeconds:0.###} s (Ingress:StatusTimeout); what it did so far is kept, and the same request made again continues it.");

    /// <summary>
    /// The request, forwarded; or the problem to answer: 503 when the status service cannot be reached, 504 when it has
    /// not answered within <c>Ingress:StatusTimeout</c>, 415 for a Content-Type that is not one.
    /// </summary>
    private static async Task<(HttpResponseMessage? Response, IResult? Unavailable)> SendAsync(
        HttpContext context, IHttpClientFactory clients, IOptions<AuthOptions> auth, TimeSpan timeout, CancellationTokenSource deadline,
        CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(HttpClientName);
        var target = new Uri(client.BaseAddress!, Target(context.Request));
        if (!SamePath(target, context.Request))
        {
            return (null, ApiProblems.Problem(StatusCodes.Status400BadRequest, "invalid_parameter", "Invalid request path.",
                "The request path has a backslash or a dot segment that would name another resource once normalized; send the path as an HTTP client library writes it."));
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), target);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auth.Value.BootstrapKey);
        // The caller, authenticated here: the status service records it as the actor of what the request changes.
        if (ApiKeyIdentity.From(context.User) is { } caller)
        {
            request.Headers.Add(ApiKeyIdentity.ActingKeyHeader, caller.Id);
        }

        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(context.Request.Body);
            if (context.Request.ContentType is { } contentType)
            {
                if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed))
                {
                    return (null, ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType,
                        "Unsupported media type.", "The Content-Type header is not a media type; send the body as JSON with 'Content-Type: application/json'."));
                }

                request.Content.Headers.ContentType = parsed;
            }
        }

        // Until the answer's headers: the body is then read within what is left of the same deadline.
        try
        {
            return (await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token), null);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The status service took the request and is still at it (or hangs). Cancelling our request cancels its
            // work; what an erasure or bulk operation committed so far stays, and the same request made again finishes it.
            return (null, TimedOut(timeout));
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // Refused, reset, not resolved, or not connected within ConnectTimeout.
            context.Response.Headers.RetryAfter = "5";
            return (null, ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, ApiProblems.ServiceUnavailable,
                "Service unavailable.", "The status service cannot be reached; retry in a few seconds."));
        }
    }

    /// <summary>
    /// The path and query to ask the status service for: the request target as the client sent it, so that the status
    /// service decodes it once, as it would the client's own request. The decoded path written out again is not the same
    /// request: a <c>%XX</c> the client escaped (<c>%2541</c>, an address <c>a%41b@…</c>, whose <c>%</c> is legal in a local
    /// part) comes out as <c>%41</c>, which the status service decodes a second time (<c>aAb@…</c>). Only a target in
    /// origin form (starting with <c>/</c>) is sent on; an absolute-form one, which names a host, falls back to the path.
    /// </summary>
    private static string Target(HttpRequest request) =>
        request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget is ['/', ..] raw && !raw.StartsWith("//", StringComparison.Ordinal)
            ? raw
            : request.Path + request.QueryString;

    /// <summary>
    /// Whether the status service will be asked for the path this request was routed and authorized by. The raw target
    /// is sent on, and <see cref="Uri"/> normalizes it as Kestrel does not: it reads a <c>\</c> as a <c>/</c> and then
    /// removes the dot segments, so <c>/v1/emails/x\..\..\webhooks</c>, one segment to Kestrel (an email id: the read
    /// scope), would reach the status service, with the bootstrap key, as <c>/v1/webhooks</c> (admin). The target's path
    /// is decoded as Kestrel decodes one (every escape but <c>%2F</c>, which stays three characters of its segment) and
    /// compared with the path Kestrel decoded here, in any case: routes match in any case, and a <c>%2f</c> may come back
    /// as <c>%2F</c>.
    /// </summary>
    internal static bool SamePath(Uri target, HttpRequest request)
    {
        var decoded = Uri.UnescapeDataString(target.AbsolutePath.Replace("%2F", "%252F", StringComparison.OrdinalIgnoreCase));
        return string.Equals(decoded, (request.PathBase + request.Path).Value, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<IResult> CopyAsync(HttpResponseMessage response, HttpContext context, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
        foreach (var header in new[] { "Location", "Retry-After", "Idempotent-Replayed" })
        {
            if (response.Headers.TryGetValues(header, out var values))
            {
                context.Response.Headers[header] = values.ToArray();
            }
        }

        await response.Content.CopyToAsync(context.Response.Body, cancellationToken);
        return Results.Empty;
    }
}
