using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Idempotency;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Ingress.Sending;

/// <summary>The idempotency key of a request, with the hash of the request it was first used for.</summary>
internal sealed record IdempotencyContext(string ApiKeyId, string Key, byte[] RequestHash, byte[] LegacyHash);

/// <summary>What <see cref="EmailAcceptor.StartAsync{T}"/> found: an answer to give at once, or a body to accept.</summary>
internal sealed record AcceptStart<T>(
    ApiKeyIdentity Caller,
    T? Body,
    IdempotencyContext? Idempotency,
    Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>? Answer)
    where T : class;

/// <summary>
/// The unit of work of one accept request (single, batch or raw): checks the idempotency key and the caller's
/// sender domains, stages the emails into the outbox, and commits everything in one transaction — the emails,
/// their bus messages and the idempotency record — before anything is answered. On PostgreSQL a request without
/// an idempotency key commits through the group commit of <see cref="OutboxWriter"/> (one statement for many
/// concurrent requests); otherwise (and always when a staged email's content is stored, <see cref="EmailContentRecord"/>)
/// through the request's <see cref="IngressDbContext"/>.
/// </summary>
internal sealed class EmailAcceptor(
    IngressDbContext db,
    Outbox.Outbox outbox,
    IdempotentRequests idempotency,
    IOptions<IngressOptions> options,
    TimeProvider clock,
    OutboxWriter? groupCommit = null)
{
    private static readonly IdnMapping Idn = new();

    private readonly List<OutboxMessage> _staged = [];

    private readonly List<EmailContentRecord> _contents = [];

    public SendLimits Limits => SendLimits.From(options.Value, clock);

    /// <summary>
    /// Reads the <c>Idempotency-Key</c>. Returns the earlier answer when the same request was accepted before,
    /// a problem when the key is malformed or was used for another request, or the context to commit with.
    /// </summary>
    public async Task<(IdempotencyContext? Context, T? Replay, ProblemHttpResult? Problem)> BeginAsync<T>(
        HttpContext http, ApiKeyIdentity caller, ReadOnlyMemory<byte> body, CancellationToken cancellationToken, string? mode = null)
        where T : class
    {
        var (key, problem) = IdempotentRequests.ReadKey(http.Request);
        if (problem is not null || key is null)
        {
            return (null, null, problem);
        }

        var context = new IdempotencyContext(caller.Id, key, IdempotentRequests.HashRequest(http.Request, mode, body.Span),
            IdempotentRequests.LegacyHashRequest(http.Request, body.Span));
        var previous = await idempotency.FindAsync(context.ApiKeyId, context.Key, context.RequestHash, context.LegacyHash, cancellationToken);
        return previous switch
        {
            null => (context, null, null),
            { SameRequest: true } => (context, IdempotentRequests.Replay<T>(http, previous), null),
            _ => (context, null, IdempotentRequests.Mismatch()),
        };
    }

    /// <summary>
    /// The start every single-email accept shares (send, raw, template test): reads the JSON body and the
    /// <c>Idempotency-Key</c>. <see cref="AcceptStart{T}.Answer"/> is set when the request is answered already
    /// (a problem, or the earlier answer to the same request); otherwise <see cref="AcceptStart{T}.Body"/> is the
    /// request to accept.
    /// </summary>
    public async Task<AcceptStart<T>> StartAsync<T>(HttpContext http, CancellationToken cancellationToken) where T : class
    {
        var caller = ApiKeyIdentity.From(http.User)!;
        var body = await JsonBody.ReadAsync<T>(http.Request, cancellationToken);
        if (body.Problem is not null)
        {
            return new(caller, null, null, body.Problem);
        }

        var (idempotency, replay, refused) = await BeginAsync<EmailAcceptedResponse>(http, caller, body.Raw, cancellationToken);
        return refused is not null ? new(caller, null, null, refused)
            : replay is not null ? new(caller, null, null, SendEndpoints.Accepted(replay))
            : new(caller, body.Value, idempotency, null);
    }

    /// <summary>A key restricted to some sender domains may not send from any other (403).</summary>
    public static ProblemHttpResult? CheckSenders(ApiKeyIdentity caller, params IEnumerable<MailboxAddress> senders)
    {
        if (caller.AllowedSenderDomains.Count == 0)
        {
            return null;
        }

        foreach (var sender in senders)
        {
            var domain = AsciiDomain(sender.Domain);
            if (!caller.AllowedSenderDomains.Any(d => domain == d || domain.EndsWith("." + d, StringComparison.Ordinal)))
            {
                return ApiProblems.Problem(StatusCodes.Status403Forbidden, ApiProblems.RestrictedApiKey, "Sender domain not allowed.",
                    $"This API key may only send from {string.Join(", ", caller.AllowedSenderDomains)}; '{sender.Address}' is not in them.");
            }
        }

        return null;
    }

    /// <summary>Adds an accepted email (its bus messages, and its content when that is stored) to the unit of work.</summary>
    public void Stage(SendEmail command, IReadOnlyList<string> bcc, DateTimeOffset? scheduledAt)
    {
        var (rows, content) = outbox.Accept(command, bcc, scheduledAt);
        _staged.AddRange(rows);
        if (content is not null)
        {
            _contents.Add(content);
        }
    }

    /// <summary>
    /// Commits the unit of work with the idempotency record. When a concurrent request with the same key
    /// committed first, nothing of this one is kept and the winner's answer is returned instead.
    /// </summary>
    public async Task<(T? Response, ProblemHttpResult? Problem)> CommitAsync<T>(
        HttpContext http, IdempotencyContext? context, int statusCode, T response, CancellationToken cancellationToken)
        where T : class
    {
        // Stored content commits through the context: large emails gain nothing from sharing a statement.
        if (context is null && groupCommit is not null && _contents.Count == 0)
        {
            await groupCommit.WriteAsync(_staged);
            outbox.Notify();
            return (response, null);
        }

        db.OutboxMessages.AddRange(_staged);
        db.EmailContents.AddRange(_contents);
        if (context is not null)
        {
            await idempotency.ForgetExpiredAsync(context.ApiKeyId, context.Key, cancellationToken);
            idempotency.Remember(context.ApiKeyId, context.Key, context.RequestHash, statusCode, response);
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (context is not null && StoreErrors.IsUniqueViolation(ex))
        {
            db.ChangeTracker.Clear();
            var winner = await idempotency.FindAsync(context.ApiKeyId, context.Key, context.RequestHash, context.LegacyHash, cancellationToken);
            return winner switch
            {
                null => (null, ApiProblems.Problem(StatusCodes.Status409Conflict, "concurrent_idempotent_requests",
                    "Concurrent idempotent requests.", "Another request with this Idempotency-Key is in progress; retry shortly.")),
                { SameRequest: true } => (IdempotentRequests.Replay<T>(http, winner), null),
                _ => (null, IdempotentRequests.Mismatch()),
            };
        }

        outbox.Notify();
        return (response, null);
    }

    /// <summary>Builds the <see cref="SendEmail"/> command, fixing its id and Message-ID once.</summary>
    public SendEmail CreateCommand(SendEmailRequest request, ValidatedEmail email)
    {
        var id = Guid.CreateVersion7();
        return new SendEmail(
            EmailId: id,
            MessageId: MessageIdFor(id, email.From),
            Envelope: new Envelope(ReturnPathFor(id) ?? email.From.Address, Envelope(email.To, email.Cc, email.Bcc)),
            From: request.From!.Trim(),
            To: Trimmed(request.To),
            Cc: Trimmed(request.Cc),
            ReplyTo: Trimmed(request.ReplyTo),
            Subject: request.Subject!,
            Html: request.Html,
            Text: request.Text,
            Headers: request.Headers ?? new Dictionary<string, string>(),
            Attachments: email.Attachments,
            Tags: (request.Tags ?? []).Select(t => new EmailTag(t.Name!, t.Value!)).ToList(),
            Metadata: request.Metadata ?? new Dictionary<string, string>(),
            Priority: request.Priority ?? EmailPriority.Normal,
            AcceptedAt: clock.GetUtcNow())
        {
            ExpiresAt = email.ExpiresAt,
        };
    }

    /// <summary>The envelope sender that names the email (<c>Ingress:ReturnPath</c> with its id after a '+'), or null when none is set.</summary>
    public string? ReturnPathFor(Guid emailId)
    {
        if (options.Value.ReturnPath is not { Length: > 0 } returnPath)
        {
            return null;
        }

        var at = returnPath.LastIndexOf('@');
        return $"{returnPath[..at]}+{emailId:N}{returnPath[at..]}";
    }

    public string MessageIdFor(Guid emailId, MailboxAddress from) =>
        $"{emailId:N}@{options.Value.MessageIdDomain ?? AsciiDomain(from.Domain)}";

    public static IReadOnlyList<string> Envelope(params IEnumerable<MailboxAddress>[] fields) =>
        fields.SelectMany(f => f).Select(m => m.Address).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Addresses as the client wrote them (validated already), for headers and for display.</summary>
    public static IReadOnlyList<string> Trimmed(IReadOnlyList<string>? addresses) =>
        addresses?.Select(a => a.Trim()).ToList() ?? [];

    private static string AsciiDomain(string domain)
    {
        try
        {
            // Lower-cased first: under invariant globalization IdnMapping folds no case, and BÜCHER.example would become
            // another A-label (xn--bcher-2pa) than bücher.example (xn--bcher-kva).
            return Idn.GetAscii(domain.ToLowerInvariant()).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return domain.ToLowerInvariant();
        }
    }
}
