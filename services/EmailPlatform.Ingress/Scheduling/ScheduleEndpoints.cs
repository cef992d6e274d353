using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Problems;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Scheduling;

/// <summary>
/// <c>POST /v1/emails/{id}/cancel</c> and <c>PATCH /v1/emails/{id}</c> (<c>scheduled_at</c>). Both work while the
/// email's <c>SendEmail</c> is still in the outbox, that is until it is due and published. The pending rows are
/// locked first, so a cancel and the publisher never both win: either the email is canceled and never sent,
/// or it was already handed to delivery and the cancel answers 409.
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
        string id, IngressDbContext db, Outbox.Outbox outbox, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (changed, problem) = await ChangeUnsentAsync(id, db, outbox, cancellationToken,
            unsent => db.OutboxMessages.RemoveRange(unsent),
            emailId => new EmailCanceled(NewId.NextGuid(), emailId, clock.GetUtcNow()), clock);
        return problem is null ? TypedResults.Ok(changed!) : problem;
    }

    internal static async Task<Results<Ok<EmailReference>, ValidationProblem, ProblemHttpResult>> RescheduleAsync(
        string id, HttpRequest request, IngressDbContext db, Outbox.Outbox outbox, EmailAcceptor acceptor,
        TimeProvider clock, CancellationToken cancellationToken)
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

        var (changed, problem) = await ChangeUnsentAsync(id, db, outbox, cancellationToken,
            unsent => unsent.ForEach(m => m.AvailableAt = at.UtcDateTime),
            emailId => new EmailRescheduled(NewId.NextGuid(), emailId, at, clock.GetUtcNow()), clock);
        return problem is null ? TypedResults.Ok(changed!) : problem;
    }

    /// <summary>
    /// Locks the email's unpublished rows, applies <paramref name="change"/> to its not yet sent
    /// <c>EmailQueued</c> and <c>SendEmail</c>, announces it, and commits; or says why it cannot (404, 409).
    /// </summary>
    private static async Task<(EmailReference? Changed, ProblemHttpResult? Problem)> ChangeUnsentAsync<TEvent>(
        string id, IngressDbContext db, Outbox.Outbox outbox, CancellationToken cancellationToken,
        Action<List<OutboxMessage>> change, Func<Guid, TEvent> announce, TimeProvider clock)
        where TEvent : class
    {
        if (!Guid.TryParse(id, out var emailId))
        {
            return (null, NotFound(id));
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var pending = await LockPendingAsync(db, emailId, cancellationToken);
        if (!pending.Any(m => OutboxMessageTypes.IsCommand(m.MessageType)))
        {
            return (null, await AlreadySentOrUnknownAsync(db, id, emailId, cancellationToken));
        }

        change([.. pending.Where(m => m.MessageType is nameof(SendEmail) or nameof(EmailQueued))]);
        outbox.Add(emailId, announce(emailId), clock.GetUtcNow());
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        outbox.Notify();
        return (new EmailReference("email", emailId), null);
    }

    /// <summary>The email's unpublished outbox rows, locked until the transaction ends (waiting for a publish in flight).</summary>
    private static Task<List<OutboxMessage>> LockPendingAsync(IngressDbContext db, Guid emailId, CancellationToken cancellationToken) =>
        (db.Database.IsNpgsql()
            ? db.OutboxMessages.FromSql($"SELECT * FROM outbox_messages WHERE email_id = {emailId} AND published_at IS NULL FOR UPDATE")
            : db.OutboxMessages.Where(m => m.EmailId == emailId && m.PublishedAt == null))
        .ToListAsync(cancellationToken);

    private static async Task<ProblemHttpResult> AlreadySentOrUnknownAsync(IngressDbContext db, string id, Guid emailId, CancellationToken cancellationToken) =>
        await db.OutboxMessages.AnyAsync(m => m.EmailId == emailId, cancellationToken)
            ? ApiProblems.Problem(StatusCodes.Status409Conflict, ApiProblems.ValidationError, "Email already sent.",
                $"Email '{id}' was already handed to delivery or canceled; only a scheduled email that has not been sent can be canceled or rescheduled.")
            : NotFound(id);

    private static ProblemHttpResult NotFound(string id) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Email not found.", $"No email with id '{id}' is waiting to be sent.");
}
