using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace EmailPlatform.Ingress.Sending;

public static class EmailsEndpoints
{
    public static RouteGroupBuilder MapSending(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/emails")
            .WithTags("Emails")
            .RequireAuthorization();

        group.MapPost("/", SendAsync)
            .WithName("SendEmail")
            .WithSummary("Accepts one email for delivery.")
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                // The handler reads the body itself (to turn every malformed body into a clear problem), so
                // describe it here; routing-level Accepts metadata would answer 415 before authentication.
                var schema = await context.GetOrCreateSchemaAsync(typeof(SendEmailRequest), null, cancellationToken);
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            });

        return group;
    }

    /// <summary>
    /// Validates, then commits the email to the outbox; the 202 is sent only after that commit, so an
    /// accepted email survives a crash a moment later. Nothing invalid is stored.
    /// </summary>
    internal static async Task<Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        HttpRequest httpRequest,
        IngressDbContext db,
        OutboxSignal signal,
        IOptions<IngressOptions> options,
        TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<SendEmailRequest>(httpRequest, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var validation = SendEmailValidator.Validate(body.Value!);
        if (validation.Email is null)
        {
            return ApiProblems.Validation(validation.Errors, validation.ProblemName);
        }

        var command = AcceptedEmail.Create(body.Value!, validation.Email, options.Value.MessageIdDomain, clock);
        Activity.Current?.SetTag("email.id", command.EmailId);

        db.OutboxEmails.Add(new OutboxEmail
        {
            Id = command.EmailId,
            AcceptedAt = command.AcceptedAt.UtcDateTime,
            Payload = JsonSerializer.Serialize(command, OutboxJson.Options),
            Bcc = [.. AcceptedEmail.Trimmed(body.Value!.Bcc)],
            TraceParent = Activity.Current?.Id,
        });
        await db.SaveChangesAsync(cancellationToken);

        signal.Notify();
        OutboxTelemetry.Accepted.Add(1);
        return TypedResults.Accepted($"/v1/emails/{command.EmailId}", new EmailAcceptedResponse(command.EmailId));
    }
}

/// <summary>The answer to an accepted send: <c>{"id": "…"}</c>, as Resend's clients read it.</summary>
public sealed record EmailAcceptedResponse(Guid Id);
