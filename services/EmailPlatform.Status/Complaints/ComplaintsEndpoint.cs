using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.Status.Bounces;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace EmailPlatform.Status.Complaints;

/// <summary>
/// <c>POST /v1/complaints</c> (admin): a feedback loop's complaint report (RFC 5965) as it arrived
/// (<c>Content-Type: message/rfc822</c>), from the mailbox the operator registered with the mailbox providers; recorded
/// by <see cref="ComplaintReports"/>. The refusals are those of <c>POST /v1/bounces</c>: 415, 413, 400 for a body that
/// is not a message, 422 for a message that is no feedback report or about no email sent here, 503 with
/// <c>Retry-After</c> for one about an email accepted moments ago and not recorded yet.
/// </summary>
public static class ComplaintsEndpoint
{
    public const string NotAFeedbackReport = "not_a_feedback_report";

    public static RouteHandlerBuilder MapComplaints(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/v1/complaints", ReceiveAsync)
            .WithTags("Complaints").WithName("ReportComplaint").RequireAuthorization(ApiKeyScopes.Admin)
            .WithMetadata(new AcceptsMetadata(["message/rfc822"], isOptional: false))
            .WithSummary("Records a recipient's complaint from a feedback loop report (RFC 5965, Abuse Reporting Format): an email.complained event, and the address suppressed; the body is the report as received (message/rfc822).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    internal static async Task<Results<Ok<ComplaintReportResponse>, ProblemHttpResult>> ReceiveAsync(
        HttpContext http, ComplaintReports reports, CancellationToken cancellationToken)
    {
        if (!ReportBody.IsMessage(http.Request))
        {
            return ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType, "Unsupported media type.",
                "Send the complaint report as it was received, the whole message with its headers, with 'Content-Type: message/rfc822'.");
        }

        if (await ReportBody.ReadAsync(http.Request, cancellationToken) is not { } body)
        {
            return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "Payload too large.",
                $"A complaint report may be at most {ReportBody.MaxBytes / (1024 * 1024)} MB.");
        }

        var outcome = await reports.RecordAsync(body, "http", cancellationToken);
        return outcome.Refusal switch
        {
            null => TypedResults.Ok(outcome.Recorded!),
            ComplaintRefusal.InvalidMessage => ApiProblems.Problem(StatusCodes.Status400BadRequest, BouncesEndpoint.InvalidMessage, "The body is not a message.", outcome.Detail!),
            ComplaintRefusal.NotAFeedbackReport => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, NotAFeedbackReport,
                "Not a feedback report.", outcome.Detail!),
            ComplaintRefusal.NotRecordedYet => BouncesEndpoint.NotRecordedYetProblem(http, outcome.Detail!),
            _ => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, BouncesEndpoint.UnknownEmail, "The report is not about an email sent here.", outcome.Detail!),
        };
    }
}
