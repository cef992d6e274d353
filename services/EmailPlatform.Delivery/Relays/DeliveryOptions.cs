namespace EmailPlatform.Delivery.Relays;

/// <summary>Configuration section <c>Delivery</c>: the upstream relays and SMTP timeouts.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>The upstream relays (<c>Delivery:Relays:0:Host</c>, env <c>Delivery__Relays__0__Host</c>, …).</summary>
    public List<RelayOptions> Relays { get; set; } = [];

    /// <summary>How long connecting, the greeting, STARTTLS and AUTH may take together.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long any single read or write on an open SMTP connection may take.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
