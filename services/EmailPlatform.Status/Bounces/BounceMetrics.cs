using System.Diagnostics.Metrics;
using EmailPlatform.Status.Recording;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// <c>emailplatform.status.bounce_reports</c>: the messages handed in as bounce reports, by how they came
/// (<c>emailplatform.via</c>: <c>http</c>, <c>smtp</c>) and what became of them (<c>emailplatform.result</c>:
/// <c>recorded</c>, or the refusal: <c>invalid_message</c>, <c>not_a_delivery_report</c>, <c>unknown_email</c>,
/// <c>not_recorded_yet</c>). The
/// bounces they record are counted with the other events (<c>emailplatform.status.events.recorded</c>).
/// </summary>
public sealed class BounceMetrics
{
    private readonly Counter<long> _received;

    public BounceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(RecordingMetrics.MeterName);
        _received = meter.CreateCounter<long>("emailplatform.status.bounce_reports", "{message}", "Messages handed in as bounce reports, by result.");
    }

    public void Received(string via, BounceRefusal? refusal) =>
        _received.Add(1,
            new KeyValuePair<string, object?>("emailplatform.via", via),
            new KeyValuePair<string, object?>("emailplatform.result", refusal switch
            {
                null => "recorded",
                BounceRefusal.InvalidMessage => "invalid_message",
                BounceRefusal.NotADeliveryReport => "not_a_delivery_report",
                BounceRefusal.NotRecordedYet => "not_recorded_yet",
                _ => "unknown_email",
            }));
}
