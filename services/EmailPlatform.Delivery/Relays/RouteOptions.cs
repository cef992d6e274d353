namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// A routing rule (<c>Delivery:Routes:0</c>): mail matching every condition set here goes only through
/// <see cref="Relays"/> (tenant A's mail via relay X), in their usual priority and weight order. The first matching
/// rule wins; mail matching none goes through every relay. When all of a rule's relays are failing the recipients
/// are deferred, never sent through a relay outside the rule.
/// </summary>
public sealed class RouteOptions
{
    /// <summary>The domain of the From address, exactly (<c>tenant-a.example</c>; a subdomain is another domain).</summary>
    public string? SenderDomain { get; set; }

    /// <summary>A tag the email carries: <c>name=value</c>, or <c>name</c> for any value.</summary>
    public string? Tag { get; set; }

    /// <summary>Names of relays in <c>Delivery:Relays</c>.</summary>
    public List<string> Relays { get; set; } = [];
}
