using System.Text.Json.Serialization;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Templates;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Batches;

/// <summary>
/// <c>POST /v1/emails/batch</c>: up to 100 emails in one transaction. <c>x-batch-validation: strict</c> (the
/// default) accepts all or none; <c>permissive</c> accepts the valid ones and lists the others by index.
/// An <c>Idempotency-Key</c> covers the batch as a whole.
/// </summary>
internal static class BatchEndpoint
{
    public const int MaxEmails = 100;
    private const string ModeHeader = "x-batch-validation";

    public static void MapBatch(this RouteGroupBuilder group) =>
        group.MapPost("/batch", SendBatchAsync)
            .WithName("SendBatch")
            .WithSummary("Accepts up to 100 emails at once.")
            .WithJsonRequestBody<SendEmailRequest[]>(OpenApiBodies.BatchExample)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    internal static async Task<Results<Ok<BatchResponse>, ValidationProblem, ProblemHttpResult>> SendBatchAsync(
        HttpContext http, EmailAcceptor acceptor, TemplateSending templates, CancellationToken cancellationToken)
    {
        var caller = ApiKeyIdentity.From(http.User)!;
        var permissive = http.Request.Headers[ModeHeader].ToString().ToLowerInvariant() switch
        {
            "" or "strict" => false,
            "permissive" => true,
            _ => (bool?)null,
        };
        if (permissive is null)
        {
            const string message = $"The {ModeHeader} header is 'strict' or 'permissive'.";
            return ApiProblems.FieldProblem(StatusCodes.Status400BadRequest, "invalid_parameter", "Invalid batch validation mode.", message,
                new Dictionary<string, string[]> { [ModeHeader] = [message] });
        }

        // Item by item: in permissive mode an email of the wrong shape is that email's error, and the others are accepted.
        var body = await JsonBody.ReadArrayAsync<SendEmailRequest>(http.Request, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var (idempotency, replay, refused) = await acceptor.BeginAsync<BatchResponse>(
            http, caller, body.Raw, cancellationToken, permissive.Value ? "permissive" : "strict");
        if (refused is not null)
        {
            return refused;
        }

        if (replay is not null)
        {
            return TypedResults.Ok(replay);
        }

        var requests = body.Value!;
        if (requests.Count is 0 or > MaxEmails)
        {
            return ApiProblems.Validation(new Dictionary<string, string[]>
            {
                ["$"] = [$"A batch holds 1 to {MaxEmails} emails; got {requests.Count}."],
            });
        }

        var accepted = new List<EmailAcceptedResponse>();
        var scheduled = 0;
        var errors = new List<BatchError>();
        var fieldErrors = new Dictionary<string, string[]>();
        var limits = acceptor.Limits;
        for (var i = 0; i < requests.Count; i++)
        {
            var (request, path, error) = requests[i];
            ValidationResult validation;
            if (error is not null)
            {
                validation = ValidationResult.Invalid(new Dictionary<string, string[]> { [path ?? "$"] = [error] }, ApiProblems.ValidationError);
            }
            else if (request is null)
            {
                validation = ValidationResult.Invalid(new Dictionary<string, string[]> { ["$"] = ["An email must be a JSON object."] }, ApiProblems.ValidationError);
            }
            else
            {
                // A template is rendered first, as for a single send; what it cannot render is this email's error.
                var (rendered, unrendered) = await templates.ApplyAsync(request, cancellationToken);
                request = rendered;
                validation = unrendered is not null
                    ? ValidationResult.Invalid(unrendered.Errors, ApiProblems.ValidationError)
                    : SendEmailValidator.Validate(request!, limits);
            }

            if (validation.Email is not { } email)
            {
                foreach (var (field, messages) in validation.Errors)
                {
                    fieldErrors[field == "$" ? $"[{i}]" : $"[{i}].{field}"] = messages;
                }

                errors.Add(new BatchError(i, string.Join(" ", validation.Errors.SelectMany(e => e.Value))));
                continue;
            }

            if (EmailAcceptor.CheckSenders(caller, email.From) is { } forbidden)
            {
                if (!permissive.Value)
                {
                    return forbidden;
                }

                errors.Add(new BatchError(i, forbidden.ProblemDetails.Detail!));
                continue;
            }

            var command = acceptor.CreateCommand(request!, email);
            acceptor.Stage(command, EmailAcceptor.Trimmed(request!.Bcc), email.ScheduledAt);
            accepted.Add(new EmailAcceptedResponse(command.EmailId));
            scheduled += email.ScheduledAt is null ? 0 : 1;
        }

        if (!permissive.Value && errors.Count > 0)
        {
            return ApiProblems.Validation(fieldErrors, ApiProblems.ValidationError,
                $"{errors.Count} of {requests.Count} emails are invalid; in strict mode none was accepted.");
        }

        var (response, problem) = await acceptor.CommitAsync(
            http, idempotency, StatusCodes.Status200OK, new BatchResponse(accepted, permissive.Value ? errors : null), cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        OutboxTelemetry.RecordAccepted(accepted.Count - scheduled, scheduled: false);
        OutboxTelemetry.RecordAccepted(scheduled, scheduled: true);
        return TypedResults.Ok(response!);
    }
}

/// <summary><c>{"data": [{"id": …}, …]}</c>, plus <c>errors</c> in permissive mode.</summary>
public sealed record BatchResponse(
    IReadOnlyList<EmailAcceptedResponse> Data,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<BatchError>? Errors);

/// <summary>Why the email at <paramref name="Index"/> of a permissive batch was not accepted.</summary>
public sealed record BatchError(int Index, string Message);
