namespace EmailPlatform.Ingress;

/// <summary>Configuration section <c>Ingress</c>.</summary>
public sealed class IngressOptions
{
    public const string SectionName = "Ingress";

    /// <summary>
    /// Base URL of the status service. When set, the ingress also serves the <c>/v1/emails</c> reads by
    /// forwarding them there, so clients use one base URL for everything.
    /// </summary>
    public Uri? StatusUrl { get; set; }

    /// <summary>Right-hand side of generated Message-IDs; the sender's domain when not set.</summary>
    public string? MessageIdDomain { get; set; }
}
