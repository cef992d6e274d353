using System.Text.Json;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Reads;

public static class EmailsEndpoints
{
    /// <summary>
    /// The header, with the value <see cref="DetailsPending"/>, of a <c>GET /v1/emails/{id}</c> answer for an email whose
    /// outcomes were recorded before its details (<c>EmailAccepted</c>): its recipients so far and their events, with no
    /// sender, subject, bodies or creation time yet. The ingress merges the details from its outbox into it.
    /// </summary>
    public const string DetailsHeader = "Email-Details";

    public const string DetailsPending = "pending";

    public static RouteGroupBuilder MapEmailReads(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/emails")
            .WithTags("Emails")
            .RequireAuthorization(ApiKeyScopes.Read);

        group.MapGet("/", ListEmails.HandleAsync)
            .WithName("ListEmails")
            .WithSummary("Lists emails newest first, filtered by status, recipient, from, tag, metadata and created-at range, in cursor pages.");

        group.MapGet("/{id}", GetAsync)
            .WithName("GetEmail")
            .WithSummary("Returns an email with each recipient's state and the timeline of events.");

        return group;
    }

    internal static async Task<Results<Ok<EmailResponse>, JsonHttpResult<object>, ProblemHttpResult>> GetAsync(
        string id, StatusDbContext db, [FromServices] IPendingEmails? pending, HttpResponse http, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var emailId))
        {
            return NotFound(id);
        }

        // One snapshot for the email, its recipients and its timeline: read apart, a batch committing in between could
        // show an event whose effect on its recipient is missing (four events recorded, the recipient still queued).
        await using var snapshot = await ReadSnapshot.BeginAsync(db, cancellationToken);
        var email = await db.Emails.AsNoTracking().Include(e => e.Recipients)
            .SingleOrDefaultAsync(e => e.Id == emailId, cancellationToken);
        if (email is null)
        {
            // Nothing recorded yet: what the accepting side still has of it, if anything.
            return pending is not null && await pending.FindAsync(emailId, null, cancellationToken) is { } accepted
                ? TypedResults.Json(accepted, WireJson.Options)
                : NotFound(id);
        }

        var events = await db.Events.AsNoTracking()
            .Where(e => e.EmailId == emailId)
            .OrderBy(e => e.OccurredAt).ThenBy(e => e.RecordedAt)
            .ToListAsync(cancellationToken);
        var response = EmailResponse.Create(email, events);
        if (email.AcceptedAt is null)
        {
            // Outcomes arrived before the email's details: what they say is the truth about its recipients, and the
            // accepting side, which has the details, merges them in (here, or in the ingress when it reads through it).
            if (pending is not null && await pending.FindAsync(emailId, JsonSerializer.SerializeToNode(response, WireJson.Options)!.AsObject(), cancellationToken) is { } merged)
            {
                return TypedResults.Json(merged, WireJson.Options);
            }

            http.Headers[DetailsHeader] = DetailsPending;
        }

        return TypedResults.Ok(response);
    }

    private static ProblemHttpResult NotFound(string id) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Email not found.", $"No email with id '{id}' exists.");
}
