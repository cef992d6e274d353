using System.Diagnostics.Metrics;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Recording;

namespace EmailPlatform.Status.Complaints;

/// <summary>
/// <c>emailplatform.status.complaint_reports</c>: the messages handed in as complaint reports, by how they came
/// (<c>emailplatform.via</c>: <c>http</c>, <c>smtp</c>) and what became of them (<c>emailplatform.result</c>:
/// <c>recorded</c>, <c>already_recorded</c>, <c>not_a_complaint</c>, or the refusal: <c>invalid_message</c>,
/// <c>not_a_feedback_report</c>, <c>unknown_email</c>, <c>not_recorded_yet</c>). The complaints they record are counted
/// with the other events too (<c>emailplatform.status.events.recorded</c>).
/// </summary>
public sealed class ComplaintMetrics(IMeterFactory meterFactory) : ReportMetrics<ComplaintReportResponse>(
    meterFactory.Create(RecordingMetrics.MeterName).CreateCounter<long>(
        "emailplatform.status.complaint_reports", "{message}", "Messages handed in as complaint reports, by result."),
    ComplaintsEndpoint.NotAFeedbackReport)
{
    protected override string RecordedResult(ComplaintReportResponse recorded) => recorded.Result;
}
