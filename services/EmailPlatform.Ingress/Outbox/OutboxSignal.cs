using EmailPlatform.ServiceDefaults.Messaging;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>Wakes the <see cref="OutboxPublisher"/> as soon as an email is committed.</summary>
public sealed class OutboxSignal : WakeSignal;
