using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// <c>POST /v1/bounces</c> (admin): a bounce that came back after a relay had accepted the message, as it arrived
/// (<c>Content-Type: message/rfc822</c>), from the mailbox or MTA that receives the envelope sender's mail; recorded by
/// <see cref="BounceReports"/>. 415 for another content type, 413 past <see cref="ReportBody.MaxBytes"/>, 400 for a
/// body that is not a message, 422 for a message that is no report or about no email sent here, 503 with
/// <c>Retry-After</c> for one about an email accepted moments ago and not recorded yet (<see cref="BounceRefusal.NotRecordedYet"/>).
/// </summary>
public static class BouncesEndpoint
{
    public const string NotADeliveryReport = "not_a_delivery_report";
    public const string UnknownEmail = "unknown_email";
    public const string InvalidMessage = "invalid_message";
    public const string EmailNotRecordedYet = "email_not_recorded_yet";

    public static RouteHandlerBuilder MapBounces(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/v1/bounces", ReceiveAsync)
            .WithTags("Bounces").WithName("ReportBounce").RequireAuthorization(ApiKeyScopes.Admin)
            .WithMetadata(new AcceptsMetadata(["message/rfc822"], isOptional: false))
            .WithSummary("Records the failed recipients of a delivery status notification (RFC 3464) that came back after a relay accepted the message; the body is the notification as received (message/rfc822).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    internal static async Task<Results<Ok<BounceReportResponse>, ProblemHttpResult>> ReceiveAsync(
        HttpContext http, BounceReports reports, CancellationToken cancellationToken)
    {
        if (!ReportBody.IsMessage(http.Request))
        {
            return ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType, "Unsupported media type.",
                "Send the bounce as it was received, the whole message with its headers, with 'Content-Type: message/rfc822'.");
        }

        if (await ReportBody.ReadAsync(http.Request, cancellationToken) is not { } body)
        {
            return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "Payload too large.",
                $"A bounce may be at most {ReportBody.MaxBytes / (1024 * 1024)} MB.");
        }

        var outcome = await reports.RecordAsync(body, "http", cancellationToken);
        return outcome.Refusal switch
        {
            null => TypedResults.Ok(outcome.Recorded!),
            BounceRefusal.InvalidMessage => ApiProblems.Problem(StatusCodes.Status400BadRequest, InvalidMessage, "The body is not a message.", outcome.Detail!),
            BounceRefusal.NotADeliveryReport => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, NotADeliveryReport,
                "Not a delivery status notification.", outcome.Detail!),
            BounceRefusal.NotRecordedYet => NotRecordedYetProblem(http, outcome.Detail!),
            _ => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, UnknownEmail, "The report is not about an email sent here.", outcome.Detail!),
        };
    }

    /// <summary>A 503 with <c>Retry-After</c>: the report is about an email accepted moments ago, whose record is on its way.</summary>
    internal static ProblemHttpResult NotRecordedYetProblem(HttpContext http, string detail)
    {
        http.Response.Headers.RetryAfter = RetryAfterSeconds;
        return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, EmailNotRecordedYet, "The email is not recorded yet.", detail);
    }

    private const string RetryAfterSeconds = "60";
}
