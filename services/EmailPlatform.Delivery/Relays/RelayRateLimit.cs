using System.Threading.RateLimiting;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Smtp;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// One relay's <see cref="RelayOptions.MaxMessagesPerSecond"/> in this worker: a token bucket of that many tokens a
/// second, whose waiters are served by priority. The bucket alone serves its queue oldest first, so a password reset
/// behind a bulk backlog would wait for a token for every bulk message that asked before it (40 of them at 2 a second:
/// 20 s), although the connections behind the limit are handed out by priority.
/// </summary>
/// <remarks>
/// Only one waiter at a time queues at the bucket: the one holding the turn, a single-slot <see cref="PrioritySlots"/>.
/// The others wait for the turn, which goes to the oldest waiting high-priority message, then normal, then bulk. A
/// high-priority message thus waits for the token of the one message already holding the turn, then for its own (once it
/// holds a connection: a message asks for its token only then, so a freed connection, which goes to it first, may first
/// have to carry the token of the bulk message that held it). The
/// bucket and so the rate are what they were (a burst of up to one second's tokens, then that many a second, per
/// replica): the turn only chooses who takes the next token. A waiter cancelled at either step gives its place up (the
/// bucket withdraws a cancelled request, and the turn passes on in every case), so nothing is left holding a token or
/// the turn.
/// </remarks>
internal sealed class RelayRateLimit(int perSecond)
{
    private readonly PrioritySlots _turn = new(1);

    private readonly TokenBucketRateLimiter _tokens = new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = perSecond,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        // One request at most is queued here (the turn's holder); the limit only has to let that one queue.
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        AutoReplenishment = true,
    });

    /// <summary>Messages waiting for a token right now: the one holding the turn, and those waiting for it.</summary>
    public int Waiting => _turn.InUse + _turn.Waiting;

    /// <summary>Waits for a token, served before every waiter of a lower priority and after the earlier ones of its own.</summary>
    public async ValueTask WaitAsync(EmailPriority priority, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(priority, cancellationToken);
        try
        {
            using var lease = await _tokens.AcquireAsync(1, cancellationToken);
        }
        finally
        {
            _turn.Release();
        }
    }
}
