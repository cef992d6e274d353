using System.Diagnostics.Metrics;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Memory;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// Bounds the request bodies this replica holds in memory at once (<c>Ingress:MaxBodyBytesInFlight</c>). A body is read
/// whole before it is validated (<see cref="JsonBody"/>), and what is built from it (the parsed request, decoded
/// attachments, the stored content) takes several times its size until the answer: a burst of sends with attachments
/// of tens of megabytes would otherwise run the pod out of memory and drop every request it holds. A request takes its
/// share before its body is read and keeps it until its answer is sent; past the budget it waits, first come, first
/// served (<see cref="ByteBudget"/>), and after <c>Ingress:MaxBodyWait</c> is answered <c>503</c> with
/// <c>Retry-After</c>, nothing accepted. A body larger than the whole budget is read alone, once nothing else holds any.
/// </summary>
/// <remarks>
/// A request that declares its <c>Content-Length</c> takes that; one sent chunked, without it, takes a first step and
/// more as its body grows, giving back what it holds before it waits for more, so that two growing bodies never wait
/// for each other (what it has read meanwhile is not counted while it waits).
/// </remarks>
internal sealed class RequestBodyBudget : ByteBudget
{
    /// <summary>What a body sent without <c>Content-Length</c> takes first; it doubles as the body grows.</summary>
    public const long FirstStep = 256 * 1024;

    private readonly TimeSpan _wait;
    private readonly Counter<long> _refused;

    public RequestBodyBudget(IOptions<IngressOptions> options, IMeterFactory meterFactory)
        : base(options.Value.MaxBodyBytesInFlight)
    {
        _wait = options.Value.MaxBodyWait;
        var meter = meterFactory.Create(OutboxTelemetry.Name);
        meter.CreateObservableGauge("emailplatform.request_body.in_flight", () => InUse, "By",
            "Bytes of request bodies this replica holds (Ingress:MaxBodyBytesInFlight bounds them).");
        meter.CreateObservableGauge("emailplatform.request_body.waiting", () => Waiting, "{request}",
            "Requests waiting for their share of Ingress:MaxBodyBytesInFlight before their bodies are read.");
        _refused = meter.CreateCounter<long>("emailplatform.request_body.refused", "{request}",
            "Requests answered 503 because their bodies waited longer than Ingress:MaxBodyWait for their share of Ingress:MaxBodyBytesInFlight.");
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> for a request body, waiting up to <c>Ingress:MaxBodyWait</c>; null when that wait
    /// ran out (counted). Throws when <paramref name="cancellationToken"/> (the client gone) is cancelled.
    /// </summary>
    public async Task<Lease?> TryEnterAsync(long bytes, CancellationToken cancellationToken)
    {
        // Nearly always: no timer for a request that does not wait.
        if (TryEnter(bytes, rank: 0, out var lease))
        {
            return lease;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_wait);
        try
        {
            return await EnterAsync(bytes, rank: 0, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _refused.Add(1);
            return null;
        }
    }
}
