using System.Text.Json.Nodes;

namespace EmailPlatform.Status.Reads;

/// <summary>
/// Finds an email that was accepted but whose details the status service has not recorded yet (its events are still in
/// the accepting side's outbox or on the bus), so that <c>GET /v1/emails/{id}</c> right after the 202 answers with it
/// instead of a 404, and an email whose outcomes came before its details shows them with its details. In distributed mode
/// the ingress does this itself with the status service's answer; the standalone host, which serves reads from the
/// status service directly, registers the ingress's outbox as one.
/// </summary>
public interface IPendingEmails
{
    /// <summary>
    /// The email in the API's read shape, or null when the accepting side has no copy of it. Without
    /// <paramref name="recorded"/>, as accepted (status <c>queued</c>, <c>scheduled</c> or <c>canceled</c>, no events yet);
    /// with it (the status service's answer for an email it has outcomes of but no details), the details merged into what
    /// was recorded: the recorded recipients' states and events, the others as accepted, and the status derived from all.
    /// </summary>
    Task<object?> FindAsync(Guid id, JsonObject? recorded, CancellationToken cancellationToken);
}
