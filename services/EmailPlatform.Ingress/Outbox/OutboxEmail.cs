namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// An accepted email waiting to be published. The row is committed before the client gets its 202; the
/// publisher sets <see cref="PublishedAt"/> once the broker has confirmed both messages.
/// </summary>
public sealed class OutboxEmail
{
    public Guid Id { get; set; }

    public DateTime AcceptedAt { get; set; }

    /// <summary>The <c>SendEmail</c> command as JSON.</summary>
    public required string Payload { get; set; }

    /// <summary>Blind-copy recipients: in the envelope, never in a header, but shown by the status API.</summary>
    public List<string> Bcc { get; set; } = [];

    /// <summary>W3C <c>traceparent</c> of the accepting request, so the publish joins its trace.</summary>
    public string? TraceParent { get; set; }

    public DateTime? PublishedAt { get; set; }
}
