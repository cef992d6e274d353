using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>
/// <see cref="RequestBodyBudget"/>: the request bodies a replica holds at once are bounded by
/// <c>Ingress:MaxBodyBytesInFlight</c>. A request past it waits, before its body is read, until earlier ones are
/// answered; one that waits longer than <c>Ingress:MaxBodyWait</c> is answered 503 with nothing accepted; one larger
/// than the whole budget is read alone.
/// </summary>
public sealed class RequestBodyBudgetTests
{
    private const int Budget = 1024 * 1024;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ASendPastTheBudgetWaitsUntilAnEarlierBodyIsAnsweredThenIsAccepted()
    {
        await using var app = await StartAsync("00:05:00");
        var budget = app.Services.GetRequiredService<RequestBodyBudget>();
        using var client = app.CreateStreamingClient();
        var (held, first) = await HoldFirstBodyAsync(client, budget);

        // 700 KB held and 400 KB more do not fit in 1 MiB: the second waits before its body is read.
        var second = client.PostAsync(new Uri("/v1/emails", UriKind.Relative), Json(Body(400 * 1024)));
        await Eventually.GetAsync(() => Task.FromResult(budget.Waiting), waiting => waiting == 1, Wait, "the second request waiting");
        Assert.False(second.IsCompleted);

        await BothAcceptedOnceTheFirstFinishesAsync(app, budget, held, first, second);
    }

    [Fact]
    public async Task TheBudgetsGaugesAreExportedBeforeTheFirstRequest()
    {
        await using var app = await StartAsync("00:00:01");
        using var client = app.CreateAnonymousClient();

        var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Matches("(?m)^emailplatform_request_body_in_flight_bytes(\\{[^}]*\\})? 0( [0-9]+)?\r?$", text);
        Assert.Matches("(?m)^emailplatform_request_body_waiting(\\{[^}]*\\})? 0( [0-9]+)?\r?$", text);
    }

    [Fact]
    public async Task ASendThatWaitsLongerThanMaxBodyWaitIsAnswered503WithRetryAfterAndNothingIsAccepted()
    {
        await using var app = await StartAsync("00:00:01");
        var budget = app.Services.GetRequiredService<RequestBodyBudget>();
        using var client = app.CreateStreamingClient();
        var (held, first) = await HoldFirstBodyAsync(client, budget);

        using var refused = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), Json(Body(400 * 1024))).WaitAsync(Wait);

        var problem = await ProblemAssert.IsDetailedProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "service_unavailable");
        Assert.Contains("Ingress:MaxBodyBytesInFlight", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(0, budget.Waiting);
        held.Finish();
        using var firstResponse = await first.WaitAsync(Wait);
        Assert.Equal(HttpStatusCode.Accepted, firstResponse.StatusCode);
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task ABodyLargerThanTheWholeBudgetIsReadAloneAndAccepted()
    {
        await using var app = await StartAsync("00:00:01");
        var budget = app.Services.GetRequiredService<RequestBodyBudget>();

        using var response = await app.PostEmailAsync(Body(Budget + Budget / 2));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, await app.CountOutboxAsync());
        await Eventually.GetAsync(() => Task.FromResult(budget.InUse), inUse => inUse == 0, Wait, "the share given back");
    }

    [Fact]
    public async Task AChunkedBodyTakesMoreOfTheBudgetAsItGrowsAndWaitsWhenItIsFull()
    {
        await using var app = await StartAsync("00:05:00");
        var budget = app.Services.GetRequiredService<RequestBodyBudget>();
        using var client = app.CreateStreamingClient();
        var (held, first) = await HoldFirstBodyAsync(client, budget);

        // Without Content-Length: its first step (256 KB) fits beside the 700 KB, the 512 KB it grows to does not.
        var unsized = new HeldBody(Body(400 * 1024), declaresLength: false);
        unsized.Finish();
        var chunked = client.PostAsync(new Uri("/v1/emails", UriKind.Relative), unsized);
        await Eventually.GetAsync(() => Task.FromResult(budget.Waiting), waiting => waiting == 1, Wait, "the chunked request waiting to grow");
        Assert.False(chunked.IsCompleted);

        await BothAcceptedOnceTheFirstFinishesAsync(app, budget, held, first, chunked);
    }

    /// <summary>
    /// Sends a 700 KB body of which only the first half arrives until <see cref="HeldBody.Finish"/>, once the budget shows
    /// its share taken.
    /// </summary>
    private static async Task<(HeldBody Held, Task<HttpResponseMessage> Response)> HoldFirstBodyAsync(HttpClient client, RequestBodyBudget budget)
    {
        var held = new HeldBody(Body(700 * 1024));
        var response = client.PostAsync(new Uri("/v1/emails", UriKind.Relative), held);
        await held.HalfSent.Task.WaitAsync(Wait);
        await Eventually.GetAsync(() => Task.FromResult(budget.InUse), inUse => inUse == held.Length, Wait, "the first body's share taken");
        return (held, response);
    }

    /// <summary>Lets the held first body finish: both requests are accepted, each once, and the budget is all given back.</summary>
    private static async Task BothAcceptedOnceTheFirstFinishesAsync(
        IngressApp app, RequestBodyBudget budget, HeldBody held, Task<HttpResponseMessage> first, Task<HttpResponseMessage> waiting)
    {
        held.Finish();
        using var firstResponse = await first.WaitAsync(Wait);
        using var waitingResponse = await waiting.WaitAsync(Wait);
        Assert.Equal(HttpStatusCode.Accepted, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, waitingResponse.StatusCode);
        Assert.Equal(2, await app.CountOutboxAsync());
        await Eventually.GetAsync(() => Task.FromResult(budget.InUse), inUse => inUse == 0, Wait, "every share given back");
    }

    private static Task<IngressApp> StartAsync(string maxBodyWait) => IngressApp.StartAsync(settings: new Dictionary<string, string?>
    {
        ["Ingress:MaxBodyBytesInFlight"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Ingress:MaxBodyWait"] = maxBodyWait,
    });

    /// <summary>A send whose JSON body is about <paramref name="size"/> bytes (its text part makes up the size).</summary>
    private static string Body(int size)
    {
        var empty = SendBodies.Json(b => b["text"] = "").ToJsonString();
        return SendBodies.Json(b => b["text"] = new string('x', size - Encoding.UTF8.GetByteCount(empty))).ToJsonString();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>
    /// A JSON body that sends its first half, then waits for <see cref="Finish"/>; with its <c>Content-Length</c>, or
    /// without one (sent chunked).
    /// </summary>
    private sealed class HeldBody : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly bool _declaresLength;
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldBody(string json, bool declaresLength = true)
        {
            _bytes = Encoding.UTF8.GetBytes(json);
            _declaresLength = declaresLength;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        public long Length => _bytes.Length;

        public TaskCompletionSource HalfSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Finish() => _finish.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var half = _bytes.Length / 2;
            await stream.WriteAsync(_bytes.AsMemory(0, half));
            await stream.FlushAsync();
            HalfSent.TrySetResult();
            await _finish.Task;
            await stream.WriteAsync(_bytes.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return _declaresLength;
        }
    }
}
