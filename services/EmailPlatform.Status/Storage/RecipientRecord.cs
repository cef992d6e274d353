using EmailPlatform.ServiceDefaults.Addresses;

namespace EmailPlatform.Status.Storage;

/// <summary>Where one recipient of an email stands, with the reply that put it there.</summary>
public sealed class RecipientRecord
{
    public Guid EmailId { get; set; }

    /// <summary>The address as given to <c>RCPT TO</c>, in the form every lookup uses (<see cref="AddressKeys"/>).</summary>
    public required string Address { get; set; }

    /// <summary><c>to</c>, <c>cc</c> or <c>bcc</c>; null until the email's details arrive.</summary>
    public string? Kind { get; set; }

    public EmailState State { get; set; } = EmailState.Queued;

    public int Attempt { get; set; }

    public int? SmtpCode { get; set; }

    public string? EnhancedCode { get; set; }

    public string? SmtpText { get; set; }

    public string? Reason { get; set; }

    public DateTime? NextAttemptAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    /// <summary>Optimistic concurrency: two events for one recipient never overwrite each other.</summary>
    public int Version { get; set; }
}
