using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// Chooses the relay for a send. For now that is always the first relay by <see cref="RelayOptions.Priority"/>
/// (lowest first; ties keep configuration order). Weighted routing and failover are a later issue.
/// </summary>
internal sealed class RelayPicker(IOptions<DeliveryOptions> options)
{
    public RelayOptions Pick() => Primary(options.Value);

    public static RelayOptions Primary(DeliveryOptions options) =>
        options.Relays.OrderBy(r => r.Priority).First();
}
