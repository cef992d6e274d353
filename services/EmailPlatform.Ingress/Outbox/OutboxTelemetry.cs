using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EmailPlatform.Ingress.Outbox;

internal static class OutboxTelemetry
{
    public const string Name = "EmailPlatform.Ingress";

    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);

    public static readonly Counter<long> Accepted = Meter.CreateCounter<long>(
        "emailplatform.accepted", "{email}", "Emails accepted durably by the ingress.");

    public static readonly Counter<long> Published = Meter.CreateCounter<long>(
        "emailplatform.outbox.published", "{email}", "Accepted emails published to the bus.");

    private static readonly Histogram<double> Lag = Meter.CreateHistogram<double>(
        "emailplatform.outbox.lag", "s", "Age of the oldest email in each published outbox batch.");

    public static void RecordLag(TimeSpan lag) => Lag.Record(Math.Max(0, lag.TotalSeconds));
}
