using System.Diagnostics.Metrics;
using EmailPlatform.Status.Recording;

namespace EmailPlatform.Status.Bulk;

/// <summary><c>emailplatform.status.bulk.commands.published</c>: commands of bulk operations the broker confirmed, by type.</summary>
public sealed class BulkMetrics
{
    private readonly Counter<long> _published;

    public BulkMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(RecordingMetrics.MeterName);
        _published = meter.CreateCounter<long>("emailplatform.status.bulk.commands.published", "{command}", "Bulk operation commands published to the bus.");
    }

    public void Published(string messageType, int count) =>
        _published.Add(count, new KeyValuePair<string, object?>("emailplatform.command_type", messageType));
}
