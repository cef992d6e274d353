namespace EmailPlatform.Delivery.Suppressions;

/// <summary>
/// The addresses that must not be sent to. The delivery worker asks before SMTP; a suppressed recipient is recorded
/// <c>suppressed</c> and published as <see cref="Contracts.EmailSuppressed"/> without any SMTP traffic for it.
/// Distributed, <see cref="HttpSuppressionList"/> asks the status service (<c>Delivery:StatusUrl</c>); the standalone
/// host registers its own implementation over the status store. With none registered, nothing is suppressed.
/// </summary>
public interface ISuppressionList
{
    /// <summary>
    /// The suppression's reason when <paramref name="address"/> is suppressed, null when it may be sent to. An
    /// implementation that cannot answer returns null (sends anyway): a status outage must never stop delivery. Only when
    /// it has reason to think the address suppressed (<see cref="HttpSuppressionList"/>'s filter holds it) does it throw
    /// <see cref="SuppressionUnknownException"/>, and that recipient alone is deferred.
    /// </summary>
    ValueTask<string?> FindAsync(string address, CancellationToken ct);
}
