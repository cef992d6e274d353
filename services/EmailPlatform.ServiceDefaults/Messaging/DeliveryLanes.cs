using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// The priority lanes <see cref="SendEmail"/> travels in: one queue per <see cref="EmailPriority"/>
/// (<c>send-email-high</c>, <c>send-email-normal</c>, <c>send-email-bulk</c>), each consumed by the workers on its own
/// receive endpoint with its own concurrency, so a password reset never waits behind a bulk backlog. Whoever puts a
/// <see cref="SendEmail"/> on the bus (the ingress outbox, a worker's retry) goes through <see cref="SendAsync"/>:
/// <see cref="SendEmail"/> is a command, sent into its lane, never published (the lanes do not subscribe to it).
/// </summary>
public static class DeliveryLanes
{
    public const string High = "send-email-high";
    public const string Normal = "send-email-normal";
    public const string Bulk = "send-email-bulk";

    public static IReadOnlyList<string> All { get; } = [High, Normal, Bulk];

    public static string QueueName(EmailPriority priority) => priority switch
    {
        EmailPriority.High => High,
        EmailPriority.Bulk => Bulk,
        _ => Normal,
    };

    /// <summary>
    /// The address a lane's messages are sent to: the lane's exchange, which the workers' receive endpoint binds to
    /// the queue of the same name. The same address works on the in-memory transport of the standalone host.
    /// </summary>
    public static Uri Address(EmailPriority priority) => new($"exchange:{QueueName(priority)}");

    /// <summary>
    /// Sends the command into its lane. On RabbitMQ the send is <c>mandatory</c>: before any worker has declared the
    /// lane's queue and bound it, the broker returns the message instead of dropping it, and this throws
    /// (MassTransit's <c>MessageReturnedException</c>, with publisher confirms on), so the caller keeps the command
    /// and tries again later: the ingress outbox row stays unpublished, the retry scheduler's rows stay due.
    /// </summary>
    public static async Task SendAsync(ISendEndpointProvider endpoints, SendEmail command, CancellationToken cancellationToken)
    {
        var endpoint = await endpoints.GetSendEndpoint(Address(command.Priority));
        await endpoint.Send(command, (SendContext<SendEmail> context) => Mandatory.Set(context), cancellationToken);
    }
}
