namespace EmailPlatform.Delivery.Suppressions;

/// <summary>
/// Thrown by <see cref="ISuppressionList.FindAsync"/> when the list cannot be asked and the address may well be on it (the
/// worker's copy of the list's filter holds it): the recipient is deferred, not sent. Sending would mail an address that
/// bounced for good or complained, for the length of a status outage.
/// </summary>
public sealed class SuppressionUnknownException(string reason, Exception? inner = null) : Exception(reason, inner);
