namespace EmailPlatform.Status.Reads;

/// <summary>
/// Finds an email that was accepted but that the status service has not recorded yet (its events are still in the
/// accepting side's outbox or on the bus), so that <c>GET /v1/emails/{id}</c> right after the 202 answers with it
/// instead of a 404. In distributed mode the ingress does this itself before a read reaches the status service; the
/// standalone host, which serves reads from the status service directly, registers the ingress's outbox as one.
/// </summary>
public interface IPendingEmails
{
    /// <summary>The email in the API's read shape (status <c>queued</c>, <c>scheduled</c> or <c>canceled</c>, no events yet), or null.</summary>
    Task<object?> FindAsync(Guid id, CancellationToken cancellationToken);
}
