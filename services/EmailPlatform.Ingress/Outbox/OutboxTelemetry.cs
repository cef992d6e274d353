using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EmailPlatform.Ingress.Outbox;

internal static class OutboxTelemetry
{
    public const string Name = "EmailPlatform.Ingress";

    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);

    /// <summary>Tagged <c>scheduled</c>: see <see cref="RecordAccepted"/>.</summary>
    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>(
        "emailplatform.accepted", "{email}", "Emails accepted durably by the ingress.");

    public static readonly Counter<long> Published = Meter.CreateCounter<long>(
        "emailplatform.outbox.published", "{email}", "Accepted emails published to the bus.");

    /// <summary>
    /// Buckets in seconds, as the dashboard's percentiles and the alert (p99 over 30 s) read them: without them the
    /// exporter's defaults (0, 5, 10, 25, 50, … meant for milliseconds) put every normal lag in one bucket.
    /// </summary>
    private static readonly Histogram<double> Lag = Meter.CreateHistogram<double>(
        "emailplatform.outbox.lag", "s", "Age of the oldest email in each published outbox batch.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] });

    /// <summary>
    /// Counts accepted emails, tagged <c>scheduled</c> "true" for those given a <c>scheduled_at</c>: they stay in the
    /// outbox until then, so the alert on an outbox that publishes nothing (EmailPlatformOutboxStalled) counts only the
    /// others, which the publisher should have sent on within seconds.
    /// </summary>
    public static void RecordAccepted(int count, bool scheduled)
    {
        if (count > 0)
        {
            Accepted.Add(count, new KeyValuePair<string, object?>("scheduled", scheduled ? "true" : "false"));
        }
    }

    public static void RecordLag(TimeSpan lag) => Lag.Record(Math.Max(0, lag.TotalSeconds));
}
