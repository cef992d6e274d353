using System.Diagnostics;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Telemetry;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Raw;

/// <summary>
/// <c>POST /v1/emails/raw</c>: for applications that build their own MIME. Same durability, limits, idempotency
/// and events as the JSON path; the message is sent byte for byte, with its Message-ID fixed at accept (the
/// client's when it has one).
/// </summary>
internal static class RawEndpoint
{
    public static void MapRaw(this RouteGroupBuilder group) =>
        group.MapPost("/raw", SendRawAsync)
            .WithName("SendRawEmail")
            .WithSummary("Accepts a complete RFC 5322 message (base64) with its SMTP envelope.")
            .WithJsonRequestBody<RawEmailRequest>(OpenApiBodies.RawExample)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    internal static async Task<Results<Accepted<EmailAcceptedResponse>, ValidationProblem, ProblemHttpResult>> SendRawAsync(
        HttpContext http, EmailAcceptor acceptor, TimeProvider clock, CancellationToken cancellationToken)
    {
        var start = await acceptor.StartAsync<RawEmailRequest>(http, cancellationToken);
        if (start.Answer is { } answer)
        {
            return answer;
        }

        var (caller, idempotency) = (start.Caller, start.Idempotency);

        var request = start.Body!;
        var (email, errors, name) = RawMessageReader.Validate(request, acceptor.Limits);
        if (email is null)
        {
            return ApiProblems.Validation(errors, name);
        }

        // Every mailbox the message claims to be from must be one the key may send as: the envelope's, and those of every
        // From, Sender, Resent-From and Resent-Sender header (MimeKit's message.Sender is only the first Sender header).
        var senders = email.Message.From.Mailboxes.Append(email.MailFrom)
            .Concat(RawMessageReader.Mailboxes(email.Message, RawMessageReader.SenderHeaders).Select(h => h.Mailbox));

        if (EmailAcceptor.CheckSenders(caller, senders) is { } forbidden)
        {
            return forbidden;
        }

        var id = Guid.CreateVersion7();
        var message = email.Message;
        if (string.IsNullOrEmpty(message.MessageId))
        {
            message.MessageId = acceptor.MessageIdFor(id, message.From.Mailboxes.First());
        }

        using var raw = new MemoryStream();
        await message.WriteToAsync(RawMessageReader.Rfc5322, raw, cancellationToken);
        var command = new SendEmail(
            EmailId: id,
            MessageId: message.MessageId,
            Envelope: new Envelope(email.MailFrom.Address, EmailAcceptor.Envelope(email.RcptTo)),
            From: message.From.ToString(),
            To: message.To.Select(a => a.ToString()).ToList(),
            Cc: message.Cc.Select(a => a.ToString()).ToList(),
            ReplyTo: message.ReplyTo.Select(a => a.ToString()).ToList(),
            Subject: message.Subject ?? "",
            Html: null,
            Text: null,
            Headers: new Dictionary<string, string>(),
            Attachments: [],
            Tags: (request.Tags ?? []).Select(t => new EmailTag(t.Name!, t.Value!)).ToList(),
            Metadata: request.Metadata ?? new Dictionary<string, string>(),
            Priority: request.Priority ?? EmailPriority.Normal,
            AcceptedAt: clock.GetUtcNow())
        {
            RawMessage = raw.ToArray(),
            ExpiresAt = email.ExpiresAt,
        };
        EmailTelemetry.SetEmailId(Activity.Current, id);

        var visible = message.To.Mailboxes.Concat(message.Cc.Mailboxes).Select(m => m.Address).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var bcc = command.Envelope.RcptTo.Where(r => !visible.Contains(r)).ToList();
        acceptor.Stage(command, bcc, email.ScheduledAt);

        var (response, problem) = await acceptor.CommitAsync(
            http, idempotency, StatusCodes.Status202Accepted, new EmailAcceptedResponse(id), cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        OutboxTelemetry.RecordAccepted(1, scheduled: email.ScheduledAt is not null);
        return TypedResults.Accepted($"/v1/emails/{id}", response!);
    }
}
