namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// A consumer could not go on because the store could not be reached (<see cref="StoreErrors.IsUnavailable"/>): nothing
/// about the message was decided. Thrown in place of the provider's error where a fault must say so by its type, since
/// a MassTransit <c>Fault&lt;T&gt;</c> carries only the exceptions' type names and messages.
/// </summary>
public sealed class StoreUnavailableException(Exception inner)
    : Exception($"The store could not be reached: {inner.Message}", inner);
