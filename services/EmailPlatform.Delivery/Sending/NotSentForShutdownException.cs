namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Thrown before <c>MAIL FROM</c> when the worker is stopping and its bus would not give the command again
/// (<see cref="ServiceDefaults.Messaging.BusTransport.RedeliversUnfinished"/>): nothing was sent, and
/// <see cref="EmailSender"/> hands the claim back and ends the consume without a fault.
/// </summary>
internal sealed class NotSentForShutdownException() : Exception("The worker is stopping: no SMTP transaction starts.");
