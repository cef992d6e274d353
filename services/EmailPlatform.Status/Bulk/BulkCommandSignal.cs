using EmailPlatform.ServiceDefaults.Messaging;

namespace EmailPlatform.Status.Bulk;

/// <summary>Wakes the <see cref="BulkCommandPublisher"/> as soon as a bulk operation is committed.</summary>
public sealed class BulkCommandSignal : WakeSignal;
