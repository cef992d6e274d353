using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>Configuration section <c>Ingress:Outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string SectionName = "Ingress:Outbox";

    /// <summary>Emails published per transaction.</summary>
    [Range(1, 1000, ErrorMessage = "Ingress:Outbox:BatchSize must be between 1 and 1000.")]
    public int BatchSize { get; set; } = 100;

    /// <summary>How often the outbox is scanned when nothing signals new work (other replicas' rows, retries).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Ingress:Outbox:PollInterval must be between 50 ms and 1 minute.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one publish may wait for the broker's confirm before the batch is retried.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "Ingress:Outbox:PublishTimeout must be between 1 s and 5 minutes.")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a publisher owns the rows it claimed (<see cref="OutboxMessage.PublishingUntil"/>): its publishes end
    /// within <see cref="PublishTimeout"/>, and marking them takes one statement more.
    /// </summary>
    public TimeSpan PublishLease => PublishTimeout + TimeSpan.FromSeconds(30);

    /// <summary>How long published messages are kept (a cancel after that answers 404 instead of 409).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00", ErrorMessage = "Ingress:Outbox:Retention must be between 1 minute and 365 days.")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);
}
