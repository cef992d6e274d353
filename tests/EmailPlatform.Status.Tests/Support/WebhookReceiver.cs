using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// A webhook endpoint on loopback (Kestrel on a free port) that records every request and answers 500 to the
/// first <see cref="FailFirst"/> of them (or to all while <see cref="FailAll"/>), then 200.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedWebhook> Requests { get; } = new();

    public int FailFirst { get; set; }

    public bool FailAll { get; set; }

    /// <summary>Runs when a request has arrived, before it is answered.</summary>
    public Func<Task>? BeforeAnswer { get; set; }

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<ReceivedWebhook> Succeeded => [.. Requests.Where(r => r.Answered == StatusCodes.Status200OK)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        var count = 0;
        app.MapPost("/hooks", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            var n = Interlocked.Increment(ref count);
            if (receiver.BeforeAnswer is { } beforeAnswer)
            {
                await beforeAnswer();
            }

            var status = receiver.FailAll || n <= receiver.FailFirst ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK;
            receiver.Requests.Enqueue(new ReceivedWebhook(
                request.Headers["webhook-id"].ToString(), request.Headers["webhook-timestamp"].ToString(),
                request.Headers["webhook-signature"].ToString(), body, status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        receiver.Url = new Uri(new Uri(address), "/hooks");
        return receiver;
    }

    /// <summary>Stops taking requests once those it has are answered, so that every request it got is in <see cref="Requests"/>.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

internal sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, int Answered);
