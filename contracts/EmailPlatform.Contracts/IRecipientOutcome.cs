namespace EmailPlatform.Contracts;

/// <summary>
/// What every per-recipient outcome event carries. Each event has its own
/// <see cref="EventId"/>, so consumers can record it exactly once however often it is delivered.
/// </summary>
public interface IRecipientOutcome
{
    Guid EventId { get; }
    Guid EmailId { get; }
    string Recipient { get; }
    string? Relay { get; }
    int Attempt { get; }
    SmtpReply? Reply { get; }
    DateTimeOffset Timestamp { get; }
}
