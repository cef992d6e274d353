using EmailPlatform.Status.Bounces;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Status.Complaints;

/// <summary>
/// <c>POST /v1/complaints</c> (admin): a feedback loop's complaint report (RFC 5965) as it arrived
/// (<c>Content-Type: message/rfc822</c>), from the mailbox the operator registered with the mailbox providers; recorded
/// by <see cref="ComplaintReports"/>. The refusals are those of <c>POST /v1/bounces</c> (<see cref="ReportEndpoint"/>),
/// with 422 <see cref="NotAFeedbackReport"/> for a message that holds no feedback report.
/// </summary>
public static class ComplaintsEndpoint
{
    public const string NotAFeedbackReport = "not_a_feedback_report";

    public static RouteHandlerBuilder MapComplaints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/v1/complaints", ReceiveAsync).TakesReports("Complaints", "ReportComplaint",
            "Records a recipient's complaint from a feedback loop report (RFC 5965, Abuse Reporting Format): an email.complained event, and the address suppressed; the body is the report as received (message/rfc822).");

    internal static Task<Results<Ok<ComplaintReportResponse>, ProblemHttpResult>> ReceiveAsync(
        HttpContext http, ComplaintReports reports, CancellationToken cancellationToken) =>
        ReportEndpoint.ReceiveAsync(http, reports, "complaint report", NotAFeedbackReport, "Not a feedback report.", cancellationToken);
}
