using EmailPlatform.ServiceDefaults.Addresses;

namespace EmailPlatform.Status.Suppressions;

/// <summary>An address that must not be sent to, why, and until when.</summary>
public sealed class SuppressionRecord
{
    /// <summary>The address in the form every lookup uses (<see cref="Storage.AddressKeys"/>).</summary>
    public required string Address { get; set; }

    public required string Reason { get; set; }

    /// <summary><c>bounce</c>, <c>complaint</c>, <c>api</c> or <c>import</c>.</summary>
    public required string Source { get; set; }

    /// <summary>The bounce or complaint event that suppressed the address, when <see cref="Source"/> is <c>bounce</c> or <c>complaint</c>.</summary>
    public Guid? SourceEventId { get; set; }

    public Guid? SourceEmailId { get; set; }

    public string? EnhancedCode { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    public DateTime? ExpiresAt { get; set; }
}

public static class SuppressionSources
{
    public const string Bounce = "bounce";
    public const string Complaint = "complaint";
    public const string Api = "api";
    public const string Import = "import";

    /// <summary>
    /// Whether the suppression is for good by what the recipient's side said, not by an operator: a hard bounce (the
    /// address is dead) or a complaint (the recipient wants no more). No <c>PUT</c> or import gives such a one an expiry.
    /// </summary>
    public static bool IsForGood(this SuppressionRecord suppression) =>
        suppression is { Source: Bounce or Complaint, ExpiresAt: null };
}
