using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Scheduling;

/// <summary>
/// <c>POST /v1/emails/{id}/cancel</c> and <c>PATCH /v1/emails/{id}</c> (<c>scheduled_at</c>), through
/// <see cref="UnsentEmails"/>: an email already handed to delivery, canceled already, or whose stored message cannot be read
/// answers 409 saying which; an unknown one 404.
/// </summary>
internal static class ScheduleEndpoints
{
    public static void MapScheduling(this RouteGroupBuilder group)
    {
        group.MapPost("/{id}/cancel", CancelAsync)
            .WithName("CancelEmail")
            .WithSummary("Cancels a scheduled email that has not been sent.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPatch("/{id}", RescheduleAsync)
            .WithName("RescheduleEmail")
            .WithSummary("Moves a scheduled email that has not been sent to a new time.")
            .WithJsonRequestBody<RescheduleRequest>(OpenApiBodies.RescheduleExample)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    internal static async Task<Results<Ok<EmailReference>, ProblemHttpResult>> CancelAsync(
        string id, UnsentEmails unsent, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var emailId))
        {
            return NotFound(id);
        }

        var outcome = await unsent.CancelAsync(emailId, cancellationToken);
        return outcome == UnsentChange.Changed ? TypedResults.Ok(new EmailReference("email", emailId)) : Refused(id, outcome);
    }

    internal static async Task<Results<Ok<EmailReference>, ValidationProblem, ProblemHttpResult>> RescheduleAsync(
        string id, HttpRequest request, UnsentEmails unsent, EmailAcceptor acceptor, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<RescheduleRequest>(request, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var errors = new SendEmailValidator.Errors();
        if (!errors.Required("scheduled_at", body.Value!.ScheduledAt)
            || ScheduleValidator.Check(errors, body.Value.ScheduledAt, acceptor.Limits) is not { } at)
        {
            return ApiProblems.Validation(errors.ToDictionary(), errors.ProblemName);
        }

        if (!Guid.TryParse(id, out var emailId))
        {
            return NotFound(id);
        }

        var outcome = await unsent.RescheduleAsync(emailId, at, cancellationToken);
        if (outcome == UnsentChange.AfterExpiry)
        {
            errors.Add("scheduled_at", $"scheduled_at must be before the email's expires_at; {at:O} is not.");
            return ApiProblems.Validation(errors.ToDictionary(), errors.ProblemName);
        }

        return outcome == UnsentChange.Changed ? TypedResults.Ok(new EmailReference("email", emailId)) : Refused(id, outcome);
    }

    private static ProblemHttpResult Refused(string id, UnsentChange outcome) => outcome switch
    {
        UnsentChange.AlreadySent => ApiProblems.Problem(StatusCodes.Status409Conflict, ApiProblems.ValidationError, "Email already sent.",
            $"Email '{id}' was already handed to delivery; only a scheduled email that has not been sent can be canceled or rescheduled."),
        UnsentChange.AlreadyCanceled => ApiProblems.Problem(StatusCodes.Status409Conflict, ApiProblems.ValidationError, "Email already canceled.",
            $"Email '{id}' was canceled already: it will not be sent, and cannot be canceled again or rescheduled."),
        UnsentChange.Unreadable => ApiProblems.Problem(StatusCodes.Status409Conflict, ApiProblems.ValidationError, "Email cannot be changed.",
            $"The stored message of email '{id}' cannot be read: it was set aside, unsent, for an operator to inspect, and cannot be canceled or rescheduled."),
        _ => NotFound(id),
    };

    private static ProblemHttpResult NotFound(string id) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Email not found.", $"No email with id '{id}' is waiting to be sent.");
}
