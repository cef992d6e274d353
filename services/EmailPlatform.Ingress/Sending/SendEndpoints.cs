using System.Diagnostics;
using EmailPlatform.Ingress.Batches;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.Ingress.Raw;
using EmailPlatform.Ingress.Scheduling;
using EmailPlatform.Ingress.Templates;
using EmailPlatform.ServiceDefaults.Telemetry;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// <c>/v1/emails</c> writes: send one, send a batch, send raw MIME, cancel and reschedule. Each answers only
/// after its transaction committed; nothing invalid is stored.
/// </summary>
public static class SendEndpoints
{
    public static RouteGroupBuilder MapSending(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/emails")
            .WithTags("Emails")
            .RequireAuthorization(ApiKeyScopes.Send)
            .AddRateLimit(routes)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPost("/", SendAsync)
            .WithName("SendEmail")
            .WithSummary("Accepts one email for delivery (or for its scheduled time).")
            .WithJsonRequestBody<SendEmailRequest>(OpenApiBodies.SendExample)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapBatch();
        group.MapRaw();
        group.MapScheduling();
        return group;
    }

    internal static async Task<Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        HttpContext http, EmailAcceptor acceptor, TemplateSending templates, CancellationToken cancellationToken)
    {
        var start = await acceptor.StartAsync<SendEmailRequest>(http, cancellationToken);
        if (start.Answer is { } answer)
        {
            return answer;
        }

        var (caller, idempotency) = (start.Caller, start.Idempotency);

        var (request, unrendered) = await templates.ApplyAsync(start.Body!, cancellationToken);
        if (unrendered is not null)
        {
            return unrendered.Problem;
        }

        return await AcceptAsync(http, acceptor, caller, idempotency, request!, cancellationToken);
    }

    /// <summary>
    /// Accepts one plain (already rendered) send: validates it, checks the caller's sender domains, stages it into
    /// the outbox and commits. Shared by <c>POST /v1/emails</c> and <c>POST /v1/templates/{id}/test</c>.
    /// </summary>
    internal static async Task<Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>> AcceptAsync(
        HttpContext http, EmailAcceptor acceptor, ApiKeyIdentity caller, IdempotencyContext? idempotency, SendEmailRequest request,
        CancellationToken cancellationToken)
    {
        var validation = SendEmailValidator.Validate(request, acceptor.Limits);
        if (validation.Email is not { } email)
        {
            return ApiProblems.Validation(validation.Errors, validation.ProblemName);
        }

        if (EmailAcceptor.CheckSenders(caller, email.From) is { } forbidden)
        {
            return forbidden;
        }

        var command = acceptor.CreateCommand(request, email);
        EmailTelemetry.SetEmailId(Activity.Current, command.EmailId);
        acceptor.Stage(command, EmailAcceptor.Trimmed(request.Bcc), email.ScheduledAt);

        var (response, problem) = await acceptor.CommitAsync(
            http, idempotency, StatusCodes.Status202Accepted, new EmailAcceptedResponse(command.EmailId), cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        OutboxTelemetry.RecordAccepted(1, scheduled: email.ScheduledAt is not null);
        return Accepted(response!);
    }

    internal static Accepted<EmailAcceptedResponse> Accepted(EmailAcceptedResponse response) =>
        TypedResults.Accepted($"/v1/emails/{response.Id}", response);
}

/// <summary>The answer to an accepted send: <c>{"id": "…"}</c>, as Resend's clients read it.</summary>
public sealed record EmailAcceptedResponse(Guid Id);
