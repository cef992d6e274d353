namespace EmailPlatform.Contracts;

/// <summary>
/// Published once the ingress has durably accepted an email: the status service's record of what was accepted
/// (bodies included, attachments only by name). <paramref name="ScheduledAt"/> is set for a scheduled send, and its
/// <see cref="EmailQueued"/> follows when the email is handed to the delivery workers; an email sent at once carries its
/// <see cref="Queued"/> event instead.
/// </summary>
public sealed record EmailAccepted(
    Guid EventId,
    Guid EmailId,
    string MessageId,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> Bcc,
    IReadOnlyList<string> ReplyTo,
    string Subject,
    string? Html,
    string? Text,
    IReadOnlyList<string> AttachmentNames,
    IReadOnlyList<EmailTag> Tags,
    IReadOnlyDictionary<string, string> Metadata,
    EmailPriority Priority,
    DateTimeOffset AcceptedAt,
    DateTimeOffset? ScheduledAt,
    DateTimeOffset Timestamp)
{
    /// <summary>
    /// Set when the bodies alone were too large for the bus (<c>Ingress:InlineContentLimit</c>): <see cref="Html"/> and
    /// <see cref="Text"/> are then null here and the status service reads them from the content store.
    /// </summary>
    public StoredContent? StoredBody { get; init; }

    /// <summary>
    /// The envelope's recipients (RCPT TO), the addresses the delivery workers report an outcome for. For a JSON send
    /// they are the addresses of <see cref="To"/>, <see cref="Cc"/> and <see cref="Bcc"/>; a raw send's headers may
    /// name others (a list, <c>undisclosed-recipients:;</c>), which are then shown but never delivered to. Null from an
    /// ingress that predates it: the addresses of To, Cc and Bcc then stand for the envelope.
    /// </summary>
    public IReadOnlyList<string>? Recipients { get; init; }

    /// <summary>
    /// For an email sent at once, the <see cref="EmailQueued"/> event of its hand-over to the delivery workers, which
    /// happens together with the accept: carried here rather than published as a message of its own, so that one message
    /// per email, not two, reaches the status service, which records both events from it. Null for a scheduled send (its
    /// <see cref="EmailQueued"/> is published at its time) and from an ingress that predates it (which published the
    /// <see cref="EmailQueued"/> on its own).
    /// </summary>
    public EmailQueued? Queued { get; init; }

    /// <summary>
    /// The email's recipients, each with the field that names it (<c>to</c>, <c>cc</c> or <c>bcc</c>): the envelope's
    /// addresses when <see cref="Recipients"/> is set, an address no To or Cc header names being a Bcc; else the
    /// addresses of To, Cc and Bcc, once each.
    /// </summary>
    /// <param name="addressesOf">
    /// The addresses an entry of To, Cc or Bcc names: one for a mailbox (<c>Name &lt;a@b&gt;</c> → <c>a@b</c>), its
    /// members for a group (<c>Team: a@b, c@d;</c>), none for an empty one.
    /// </param>
    public IReadOnlyList<(string Address, string Field)> RecipientsByField(Func<string, IEnumerable<string>> addressesOf)
    {
        ArgumentNullException.ThrowIfNull(addressesOf);
        var named = new[] { ("to", To), ("cc", Cc), ("bcc", Bcc) }
            .SelectMany(f => f.Item2.SelectMany(addressesOf).Select(a => (Address: a, Field: f.Item1)))
            .DistinctBy(r => r.Address, StringComparer.OrdinalIgnoreCase)
            .ToList();
        if (Recipients is null)
        {
            return named;
        }

        var fields = named.ToDictionary(r => r.Address, r => r.Field, StringComparer.OrdinalIgnoreCase);
        return [.. Recipients.DistinctBy(a => a, StringComparer.OrdinalIgnoreCase).Select(a => (a, fields.GetValueOrDefault(a, "bcc")))];
    }
}
