using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>What a webhook receiver got: the Standard Webhooks headers, the body as sent, and what it answered.</summary>
internal sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, int Answered);

/// <summary>
/// A webhook endpoint on loopback (Kestrel on an OS-chosen port) that records every request and answers 500 to the
/// first <c>failuresPerMessage</c> requests of each <c>webhook-id</c>, then 200: each event's delivery fails that many
/// times whatever order the platform sends them in.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _seen = new(StringComparer.Ordinal);

    private WebhookReceiver(WebApplication app, int failuresPerMessage)
    {
        _app = app;
        FailuresPerMessage = failuresPerMessage;
    }

    public int FailuresPerMessage { get; }

    public ConcurrentQueue<ReceivedWebhook> Requests { get; } = new();

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(int failuresPerMessage)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, failuresPerMessage);
        app.MapPost("/hooks", receiver.AnswerAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.Url = new Uri(new Uri(address), "/hooks");
        return receiver;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<IResult> AnswerAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        var id = request.Headers["webhook-id"].ToString();
        var n = _seen.AddOrUpdate(id, 1, (_, count) => count + 1);
        var status = n <= FailuresPerMessage ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK;
        Requests.Enqueue(new ReceivedWebhook(
            id, request.Headers["webhook-timestamp"].ToString(), request.Headers["webhook-signature"].ToString(), body, status));
        return Results.StatusCode(status);
    }
}
