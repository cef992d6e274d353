using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Bounds the one duplicate window SMTP leaves: a mail transaction takes a permit right before <c>MAIL FROM</c> and
/// gives it back once its outcome is recorded (or once it ends with nothing sent), so at most
/// <see cref="DeliveryOptions.EffectiveMaxUnrecordedTransactions"/> relay replies can be unrecorded in this worker at any
/// moment, whatever the lanes' concurrency. That is what lets a lane take several messages per connection (the next one
/// claimed and waiting while the last one is recorded and published) without a <c>kill -9</c> costing more duplicates
/// than one per connection.
/// </summary>
/// <remarks>
/// The permit is taken with a connection already in hand, so a transaction waits for it at most until one outcome is
/// recorded, and waiters are served by priority (<see cref="PrioritySlots"/>), like the connections themselves: a bulk
/// backlog delays a high-priority email here by at most one record. Taking it before the connection instead would let
/// the messages waiting for one relay's connections hold permits that another relay's messages need.
/// </remarks>
internal sealed class RecordingWindow(IOptions<DeliveryOptions> options)
{
    private readonly PrioritySlots _permits = new(options.Value.EffectiveMaxUnrecordedTransactions);

    /// <summary>Transactions in the window right now.</summary>
    public int InUse => _permits.InUse;

    /// <summary>Transactions waiting for a place, each with a connection in hand.</summary>
    public int Waiting => _permits.Waiting;

    /// <summary>Waits for a permit; dispose it when the transaction's outcome is recorded, or when it ended with nothing sent.</summary>
    public async Task<Permit> EnterAsync(EmailPriority priority, CancellationToken cancellationToken)
    {
        await _permits.WaitAsync(priority, cancellationToken);
        return new Permit(_permits);
    }

    /// <summary>One transaction's place in the window; disposing it more than once gives it back once.</summary>
    internal sealed class Permit(PrioritySlots permits) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                permits.Release();
            }
        }
    }
}
