using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Testing;

/// <summary>What a webhook receiver got: the Standard Webhooks headers, the body as sent, and what it answered.</summary>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, int Answered);

/// <summary>
/// A webhook endpoint on loopback (Kestrel on an OS-chosen port) that records every request and answers 500 to the first
/// <see cref="FailFirst"/> requests, to all while <see cref="FailAll"/>, and to the first
/// <see cref="FailuresPerMessage"/> requests of each <c>webhook-id</c> (each event's delivery then fails that many times
/// whatever order the platform sends them in); 200 otherwise.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _perMessage = new(StringComparer.Ordinal);
    private int _count;

    private WebhookReceiver(WebApplication app, int failuresPerMessage)
    {
        _app = app;
        FailuresPerMessage = failuresPerMessage;
    }

    public ConcurrentQueue<ReceivedWebhook> Requests { get; } = new();

    public int FailFirst { get; set; }

    public bool FailAll { get; set; }

    public int FailuresPerMessage { get; }

    /// <summary>Runs when a request has arrived, before it is answered.</summary>
    public Func<Task>? BeforeAnswer { get; set; }

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<ReceivedWebhook> Succeeded => [.. Requests.Where(r => r.Answered == StatusCodes.Status200OK)];

    public static async Task<WebhookReceiver> StartAsync(int failuresPerMessage = 0)
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

    /// <summary>Stops taking requests once those it has are answered, so that every request it got is in <see cref="Requests"/>.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<IResult> AnswerAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body);
        var body = await reader.ReadToEndAsync();
        var id = request.Headers["webhook-id"].ToString();
        var n = Interlocked.Increment(ref _count);
        var ofMessage = _perMessage.AddOrUpdate(id, 1, (_, count) => count + 1);
        if (BeforeAnswer is { } beforeAnswer)
        {
            await beforeAnswer();
        }

        var status = FailAll || n <= FailFirst || ofMessage <= FailuresPerMessage
            ? StatusCodes.Status500InternalServerError
            : StatusCodes.Status200OK;
        Requests.Enqueue(new ReceivedWebhook(
            id, request.Headers["webhook-timestamp"].ToString(), request.Headers["webhook-signature"].ToString(), body, status));
        return Results.StatusCode(status);
    }
}
