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
public sealed class BounceMetrics(IMeterFactory meterFactory) : ReportMetrics<BounceReportResponse>(
    meterFactory.Create(RecordingMetrics.MeterName).CreateCounter<long>(
        "emailplatform.status.bounce_reports", "{message}", "Messages handed in as bounce reports, by result."),
    BouncesEndpoint.NotADeliveryReport);
