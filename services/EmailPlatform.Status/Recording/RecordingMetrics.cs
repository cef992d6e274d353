using System.Diagnostics.Metrics;

namespace EmailPlatform.Status.Recording;

/// <summary><c>emailplatform.status.events.recorded</c>: events newly written to the timeline, by type (redeliveries are not counted).</summary>
public sealed class RecordingMetrics
{
    public const string MeterName = "EmailPlatform.Status";

    private readonly Counter<long> _recorded;

    public RecordingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _recorded = meter.CreateCounter<long>("emailplatform.status.events.recorded", "{event}", "Events recorded into the status store.");
    }

    public void Recorded(IEnumerable<string> eventTypes)
    {
        foreach (var group in eventTypes.GroupBy(t => t, StringComparer.Ordinal))
        {
            _recorded.Add(group.Count(), new KeyValuePair<string, object?>("emailplatform.event_type", group.Key));
        }
    }
}
