using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.ServiceDefaults.Memory;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Bounds the stored content this worker holds in memory at once (<c>Delivery:MaxContentBytesInFlight</c>). The lanes
/// take many messages at once (four per connection of the first relay, in each of three lanes) so that the next one is
/// claimed and waiting when a connection comes free; an email's content is loaded and its message built and signed
/// before it waits for its connection. For the emails whose content is in the store, each of them megabytes, that would
/// hold dozens of them in memory while a few are sent: enough to run the worker out of memory, fault the consumes and
/// fail the recipients. So an email with stored content takes its size from this budget before its content is loaded,
/// and gives it back when its send is over (<see cref="EmailSender"/>); emails that carry their content on the bus are
/// small (<c>Ingress:InlineContentLimit</c>) and are not counted.
/// </summary>
/// <remarks>
/// Waiters are served by priority, oldest first within a priority, like the connections (<see cref="Smtp.PrioritySlots"/>),
/// and none overtakes the waiter at the head (<see cref="ByteBudget"/>): a large email is not starved by the smaller ones
/// of its lane, or of a lower one, that would fit beside what is taken. An email larger than the whole budget is taken
/// alone, once nothing else holds any: it is sent, not failed. Only a higher lane goes ahead, as it does for a connection.
/// </remarks>
internal sealed class ContentBudget(IOptions<DeliveryOptions> options) : ByteBudget(options.Value.MaxContentBytesInFlight, ranks: 3)
{
    /// <summary>
    /// Waits until <paramref name="bytes"/> fit (or nothing else is taken), behind every waiter of the same or a higher
    /// priority. Dispose the lease once the content and the message built from it are no longer needed.
    /// </summary>
    public Task<Lease> EnterAsync(long bytes, EmailPriority priority, CancellationToken cancellationToken) =>
        EnterAsync(bytes, priority switch
        {
            EmailPriority.High => 0,
            EmailPriority.Bulk => 2,
            _ => 1,
        }, cancellationToken);
}
