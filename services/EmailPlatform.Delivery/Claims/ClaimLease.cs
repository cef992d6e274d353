using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// Keeps a live claim's lease from lapsing while its worker is still at it: waiting for a relay's rate limit or a
/// pooled connection can take longer than <c>Delivery:ClaimLease</c>, and a lapsed claim is taken over (handed back by
/// the retry scheduler, or failed when the content is not stored), so the same recipients would be sent twice or
/// wrongly given up on.
/// <list type="bullet">
/// <item>In the background, every third of the lease, it moves the lease's end forward.</item>
/// <item>Right before <c>MAIL FROM</c> (<see cref="RenewBeforeTransactionAsync"/>), when less than the longest
/// transaction (<see cref="DeliveryOptions.LongestTransaction"/>) is left, it renews once more and so confirms the claim is still
/// this worker's; if it is not, <see cref="ClaimLostException"/> abandons the attempt with nothing sent. A fresh claim
/// (the usual case) costs no extra store round trip.</item>
/// </list>
/// Each renewal is one conditional UPDATE of <c>due_at</c> on its own store connection, where the claim id still
/// matches: it does not touch the row's version, so the worker's own later write of the outcome is not taken for a
/// conflict, while a takeover (which clears the claim id) makes it match nothing.
/// </summary>
internal sealed class ClaimLease : IAsyncDisposable
{
    private readonly Claim _claim;
    private readonly IServiceScopeFactory _scopes;
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _heartbeat;
    private long _renewedAtTicks;

    private ClaimLease(Claim claim, IServiceScopeFactory scopes, DeliveryOptions options, TimeProvider time, ILogger logger)
    {
        _claim = claim;
        _scopes = scopes;
        _options = options;
        _time = time;
        _logger = logger;
        _renewedAtTicks = claim.ClaimedAt.Ticks;
        _heartbeat = HeartbeatAsync();
    }

    /// <summary>When the claim lapses unless renewed again: the last renewal (or the claim) plus <c>Delivery:ClaimLease</c>.</summary>
    public DateTime ClaimedUntil => new DateTime(Interlocked.Read(ref _renewedAtTicks), DateTimeKind.Utc) + _options.ClaimLease;

    public static ClaimLease Keep(Claim claim, IServiceScopeFactory scopes, DeliveryOptions options, TimeProvider time, ILogger logger) =>
        new(claim, scopes, options, time, logger);

    public async Task RenewBeforeTransactionAsync(CancellationToken cancellationToken)
    {
        var renewedAt = new DateTime(Interlocked.Read(ref _renewedAtTicks), DateTimeKind.Utc);
        var left = renewedAt + _options.ClaimLease - _time.GetUtcNow().UtcDateTime;
        if (left > _options.LongestTransaction)
        {
            return;
        }

        await RenewAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeat;
        _stop.Dispose();
    }

    private async Task HeartbeatAsync()
    {
        var interval = _options.ClaimLease / 3;
        while (true)
        {
            // Nearly every lease ends before its first beat: the delay is cancelled without an exception (a thrown
            // OperationCanceledException per delivered message was a measurable share of the worker's CPU).
            await Task.Delay(interval, _time, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await RenewAsync(_stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (ClaimLostException)
            {
                // Taken over: the attempt finds out before MAIL FROM (or its outcome write conflicts).
                return;
            }
            catch (Exception ex)
            {
                // A store hiccup: the next beat tries again, well before the lease ends.
                Log.RenewFailed(_logger, ex, _claim.ToSend[0].EmailId);
            }
        }
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var until = now + _options.ClaimLease;
        var emailId = _claim.ToSend[0].EmailId;
        var claimId = _claim.ClaimId;
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DeliveryDbContext>();
        var renewed = await db.Deliveries
            .Where(d => d.EmailId == emailId && d.ClaimId == claimId && d.State == DeliveryState.Sending)
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.DueAt, until), cancellationToken);
        if (renewed < _claim.ToSend.Count)
        {
            throw new ClaimLostException(emailId);
        }

        Interlocked.Exchange(ref _renewedAtTicks, now.Ticks);
    }
}
