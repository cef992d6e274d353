namespace EmailPlatform.Delivery.Relays;

/// <summary>A list in the wire shape: <c>{"object":"list","data":[…]}</c>.</summary>
internal sealed record RelayList(string Object, IReadOnlyList<RelayResponse> Data);

internal sealed record RelayResponse(
    string Name,
    string Host,
    int Port,
    RelaySecurity Security,
    int Priority,
    int Weight,
    int MaxConnections,
    int? MaxMessagesPerSecond)
{
    public static RelayResponse From(RelayOptions relay) => new(
        relay.Name, relay.Host, relay.Port, relay.Security, relay.Priority, relay.Weight,
        relay.MaxConnections, relay.MaxMessagesPerSecond);
}
