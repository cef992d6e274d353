namespace EmailPlatform.Status.Bulk;

/// <summary>
/// Commands of one bulk operation on their way to the bus (table <c>bulk_commands</c>): written in the transaction
/// that records the operation in the audit log, published by <see cref="BulkCommandPublisher"/>, and deleted in the
/// transaction that follows the broker's confirms. Up to <see cref="BulkCommands.PerRow"/> commands of one type per row.
/// </summary>
public sealed class BulkCommandRecord
{
    /// <summary>Version 7: rows are published in about the order written.</summary>
    public Guid Id { get; set; }

    /// <summary>The operation's audit record (<c>id</c> in the bulk answer).</summary>
    public Guid AuditId { get; set; }

    /// <summary>The contract's type name: <c>RetryRecipients</c> or <c>CancelEmail</c>.</summary>
    public required string MessageType { get; set; }

    /// <summary>The commands, as a JSON array in the bus's shape.</summary>
    public required string Payload { get; set; }

    public DateTime CreatedAt { get; set; }

    /// <summary>
    /// Set when the payload of a row of a known type cannot be read: it is never published and no longer blocks the rows
    /// behind it; an operator finds it with <c>parked_at IS NOT NULL</c>. A row of a type this version does not know (a
    /// newer version's, during a rolling upgrade or after a rollback) is not claimed, so not parked: it waits for a
    /// replica that knows it.
    /// </summary>
    public DateTime? ParkedAt { get; set; }

    /// <summary>W3C <c>traceparent</c> of the request that wrote it, so the publish joins that trace.</summary>
    public string? TraceParent { get; set; }
}
