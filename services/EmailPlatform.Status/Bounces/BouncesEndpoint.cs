using System.Security.Cryptography;
using System.Text;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <param name="Result">
/// <c>recorded</c>: the recipient is now <c>bounced</c>; <c>already_recorded</c>: this report was recorded for it before;
/// <c>not_failed</c>: the report says it was delayed, delivered, relayed or expanded, which changes nothing here;
/// <c>not_a_recipient</c>: the email has no such recipient (or no longer: it was erased).
/// </param>
public sealed record BounceRecipientResult(string Email, string Action, string Status, string Result);

public sealed record BounceReportResponse(string Object, Guid EmailId, string? ReportingMta, IReadOnlyList<BounceRecipientResult> Recipients);

/// <summary>
/// <c>POST /v1/bounces</c> (admin): a bounce that came back after a relay had accepted the message, as it arrived
/// (<c>Content-Type: message/rfc822</c>), from the mailbox or MTA that receives the envelope sender's mail. A relay's 250
/// only says the relay took the message; the recipient's own server may still refuse it, and then a delivery status
/// notification (RFC 3464) goes to the envelope sender. Each recipient it reports as failed is recorded as
/// <c>bounced</c> (replacing <c>delivered</c>), with the reporting MTA, the status code and the remote server's reply:
/// the email's timeline and state, the <c>email.bounced</c> webhook and, for a hard bounce, the suppression list follow,
/// as for a relay's 5xx. The email is found by the Message-ID the report returns (ours are
/// <c>&lt;email id&gt;@domain</c>). The same report posted again records nothing twice: each recipient's event id is
/// derived from the email, the recipient and the report.
/// </summary>
public static class BouncesEndpoint
{
    /// <summary>A report returns the message, attachments and all, at most.</summary>
    public const int MaxReportBytes = 10 * 1024 * 1024;

    public const string NotADeliveryReport = "not_a_delivery_report";
    public const string UnknownEmail = "unknown_email";
    public const string InvalidMessage = "invalid_message";

    public static RouteHandlerBuilder MapBounces(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/v1/bounces", ReceiveAsync)
            .WithTags("Bounces").WithName("ReportBounce").RequireAuthorization(ApiKeyScopes.Admin)
            .WithMetadata(new AcceptsMetadata(["message/rfc822"], isOptional: false))
            .WithSummary("Records the failed recipients of a delivery status notification (RFC 3464) that came back after a relay accepted the message; the body is the notification as received (message/rfc822).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    internal static async Task<Results<Ok<BounceReportResponse>, ProblemHttpResult>> ReceiveAsync(
        HttpContext http, StatusDbContext db, StatusEventWriter writer, TimeProvider clock, ILogger<BounceReportResponse> logger, CancellationToken cancellationToken)
    {
        if (!MediaTypeIs(http.Request.ContentType, "message/rfc822"))
        {
            return ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType, "Unsupported media type.",
                "Send the bounce as it was received, the whole message with its headers, with 'Content-Type: message/rfc822'.");
        }

        var body = await ReadBodyAsync(http.Request, cancellationToken);
        if (body is null)
        {
            return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge, "Payload too large.",
                $"A bounce may be at most {MaxReportBytes / (1024 * 1024)} MB.");
        }

        MimeMessage message;
        try
        {
            message = await MimeMessage.LoadAsync(new MemoryStream(body, writable: false), cancellationToken);
        }
        catch (FormatException ex)
        {
            return ApiProblems.Problem(StatusCodes.Status400BadRequest, InvalidMessage, "The body is not a message.",
                $"The body could not be read as an RFC 5322 message: {ex.Message}");
        }

        if (DeliveryReport.Read(message) is not { } report)
        {
            return ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, NotADeliveryReport, "Not a delivery status notification.",
                "The message holds no multipart/report with a message/delivery-status part (RFC 3464) naming a recipient, so it says nothing that can be recorded; a bounce written only in prose is not read.");
        }

        if (await FindEmailAsync(db, report.OriginalMessageIds, cancellationToken) is not { } email)
        {
            return ApiProblems.Problem(StatusCodes.Status422UnprocessableEntity, UnknownEmail, "The report is not about an email sent here.",
                report.OriginalMessageIds.Count == 0
                    ? "The report returns neither the message nor its headers, so there is no Message-ID to find the email by."
                    : $"No email sent here has the Message-ID the report names ({string.Join(", ", report.OriginalMessageIds.Select(id => $"<{id}>"))}).");
        }

        var now = clock.GetUtcNow();
        var occurredAt = message.Date > DateTimeOffset.MinValue && message.Date <= now ? message.Date : now;
        var reportKey = report.ReportId is { Length: > 0 } reportId ? "id:" + reportId : "sha256:" + Convert.ToHexString(SHA256.HashData(body));
        var recipients = email.Recipients.Select(r => r.Address).ToHashSet(StringComparer.Ordinal);
        var bounces = new List<ReportedBounce>();
        var results = new List<(ReportedRecipient Reported, ReportedBounce? Bounce, string? Result)>();
        foreach (var reported in report.Recipients)
        {
            if (!reported.Failed)
            {
                results.Add((reported, null, "not_failed"));
                continue;
            }

            var address = new[] { reported.FinalRecipient, reported.OriginalRecipient }.OfType<string>().Select(AddressKeys.Of).FirstOrDefault(recipients.Contains);
            if (address is null)
            {
                results.Add((reported, null, "not_a_recipient"));
                continue;
            }

            var bounce = new ReportedBounce(EventIdFor(email.Id, address, reportKey), email.Id, address, report.ReportingMta, reported.Status,
                reported.Reply, reported.Diagnostic, occurredAt);
            if (bounces.TrueForAll(b => b.EventId != bounce.EventId))
            {
                bounces.Add(bounce);
            }

            results.Add((reported, bounce, null));
        }

        var eventIds = bounces.Select(b => b.EventId).ToList();
        var before = await db.Events.AsNoTracking().Where(e => eventIds.Contains(e.Id)).Select(e => e.Id).ToListAsync(cancellationToken);
        if (bounces.Count > 0)
        {
            await writer.RecordAsync(bounces, cancellationToken);
        }

        var answer = results.Select(r => new BounceRecipientResult(r.Reported.FinalRecipient, r.Reported.Action, r.Reported.Status,
            r.Result ?? (before.Contains(r.Bounce!.EventId) ? "already_recorded" : "recorded"))).ToList();
        Log.Received(logger, email.Id, report.Recipients.Count, answer.Count(r => r.Result == "recorded"));
        return TypedResults.Ok(new BounceReportResponse("bounce_report", email.Id, report.ReportingMta, answer));
    }

    /// <summary>The email a report is about: one whose id and Message-ID are those of a Message-ID it names (ours are <c>&lt;id&gt;@domain</c>).</summary>
    private static async Task<EmailRecord?> FindEmailAsync(StatusDbContext db, IReadOnlyList<string> messageIds, CancellationToken cancellationToken)
    {
        var candidates = messageIds
            .Select(id => (Id: id, Local: id.Split('@')[0]))
            .Where(c => c.Local.Length == 32 && Guid.TryParseExact(c.Local, "N", out _))
            .ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var ids = candidates.Select(c => Guid.ParseExact(c.Local, "N")).Distinct().ToArray();
        var emails = await db.EmailsWithoutBodies.AsNoTracking().Include(e => e.Recipients).Where(e => ids.Contains(e.Id)).ToListAsync(cancellationToken);
        return candidates
            .Select(c => emails.Find(e => e.Id == Guid.ParseExact(c.Local, "N")
                && (e.MessageId is null || string.Equals(e.MessageId.Trim().Trim('<', '>'), c.Id, StringComparison.OrdinalIgnoreCase))))
            .FirstOrDefault(e => e is not null);
    }

    /// <summary>The same for the same email, recipient and report, so that a report posted again is recorded once (RFC 9562 version 8).</summary>
    internal static Guid EventIdFor(Guid emailId, string recipient, string reportKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"bounce-report\n{emailId:N}\n{recipient}\n{reportKey}"), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    private static bool MediaTypeIs(string? contentType, string expected) =>
        contentType is not null && ContentType.TryParse(contentType, out var parsed) && parsed.IsMimeType(expected.Split('/')[0], expected.Split('/')[1]);

    /// <summary>The body, or null when it is larger than <see cref="MaxReportBytes"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxReportBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxReportBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
