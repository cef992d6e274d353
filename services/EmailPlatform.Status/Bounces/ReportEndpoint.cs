using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.OpenApi;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// What <c>POST /v1/bounces</c> (<see cref="BouncesEndpoint"/>) and <c>POST /v1/complaints</c>
/// (<see cref="Complaints.ComplaintsEndpoint"/>) share: admin only, the report as it arrived (<c>Content-Type:
/// message/rfc822</c>), and the same refusals. 415 for another content type, 413 past <see cref="ReportBody.MaxBytes"/>,
/// 400 for a body that is not a message, 422 for a message that is no report of the endpoint's kind or about no email
/// sent here, 503 with <c>Retry-After</c> for one about an email accepted moments ago and not recorded yet
/// (<see cref="ReportRefusal.NotRecordedYet"/>).
/// </summary>
public static class ReportEndpoint
{
    public const string UnknownEmail = "unknown_email";
    public const string InvalidMessage = "invalid_message";
    public const string EmailNotRecordedYet = "email_not_recorded_yet";

    private const string MessageContentType = "message/rfc822";

    /// <summary>
    /// The metadata both endpoints carry: their auth, the body they accept and the problems <see cref="ReceiveAsync"/>
    /// answers. The body is described to OpenAPI only: routing-level <c>Accepts</c> metadata would answer another content
    /// type itself, before authentication and with the JSON endpoints' advice, and leaves OpenAPI a body without a type
    /// (it failed the whole document), where <see cref="ReceiveAsync"/> answers it in the report's terms.
    /// </summary>
    internal static RouteHandlerBuilder TakesReports(this RouteHandlerBuilder endpoint, string tag, string name, string summary) =>
        endpoint.WithTags(tag).WithName(name).RequireAuthorization(ApiKeyScopes.Admin)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "The report as it was received: the whole message, headers and all.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        [MessageContentType] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                    },
                };
                return Task.CompletedTask;
            })
            .WithSummary(summary)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>Records the report in the request's body with <paramref name="reports"/>, or answers the problem with it.</summary>
    /// <param name="noun">What the body is, in the details of the 415 and the 413 (<c>bounce</c>, <c>complaint report</c>).</param>
    /// <param name="notAReportType">The problem type for a message that is no report of this kind, with <paramref name="notAReportTitle"/>.</param>
    internal static async Task<Results<Ok<TResponse>, ProblemHttpResult>> ReceiveAsync<TReport, TResponse>(HttpContext http,
        ReportIntake<TReport, TResponse> reports, string noun, string notAReportType, string notAReportTitle, CancellationToken cancellationToken)
        where TReport : class
        where TResponse : class
    {
        if (!ReportBody.IsMessage(http.Request))
        {
            return ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType, "Unsupported media type.",
                $"Send the {noun} as it was received, the whole message with its headers, with 'Content-Type: {MessageContentType}'.");
        }

        if (await ReportBody.ReadAsync(http.Request, cancellationToken) is not { } body)
        {
            return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "Payload too large.",
                $"A {noun} may be at most {ReportBody.MaxBytes / (1024 * 1024)} MB.");
        }

        var outcome = await reports.RecordAsync(body, "http", cancellationToken);
        return outcome.Refusal switch
        {
            null => TypedResults.Ok(outcome.Recorded!),
            ReportRefusal.InvalidMessage => ApiProblems.Problem(StatusCodes.Status400BadRequest, InvalidMessage, "The body is not a message.", outcome.Detail!),
            ReportRefusal.NotAReport => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, notAReportType, notAReportTitle, outcome.Detail!),
            ReportRefusal.NotRecordedYet => NotRecordedYetProblem(http, outcome.Detail!),
            _ => ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, UnknownEmail, "The report is not about an email sent here.", outcome.Detail!),
        };
    }

    /// <summary>A 503 with <c>Retry-After</c>: the report is about an email accepted moments ago, whose record is on its way.</summary>
    private static ProblemHttpResult NotRecordedYetProblem(HttpContext http, string detail)
    {
        http.Response.Headers.RetryAfter = RetryAfterSeconds;
        return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, EmailNotRecordedYet, "The email is not recorded yet.", detail);
    }

    private const string RetryAfterSeconds = "60";
}
