using EmailPlatform.Ingress.Sending;
using MimeKit;

namespace EmailPlatform.Ingress.Raw;

/// <summary>A raw message that passed validation, ready to be sent as it is.</summary>
internal sealed record ValidatedRawEmail(
    MimeMessage Message,
    MailboxAddress MailFrom,
    IReadOnlyList<MailboxAddress> RcptTo,
    DateTimeOffset? ScheduledAt,
    DateTimeOffset? ExpiresAt);

/// <summary>
/// Checks a raw send: the base64 decodes, the bytes parse as an RFC 5322 message with a From header, the
/// envelope addresses are valid, and no header carries control characters MimeKit would pass through.
/// A <c>Bcc</c> header is removed (the envelope decides who gets the message; a Bcc header would disclose it).
/// </summary>
internal static class RawMessageReader
{
    /// <summary>How the accepted message is stored: as on the wire (CRLF), whatever the platform's own line ending.</summary>
    public static readonly FormatOptions Rfc5322 = CreateFormat();

    private static FormatOptions CreateFormat()
    {
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        return format;
    }

    public static (ValidatedRawEmail? Email, IDictionary<string, string[]> Errors, string ProblemName) Validate(
        RawEmailRequest request, SendLimits limits)
    {
        var errors = new SendEmailValidator.Errors();
        var mailFrom = errors.Required("mail_from", request.MailFrom) ? SendEmailValidator.ParseMailbox(errors, "mail_from", request.MailFrom!) : null;
        // The envelope is the whole recipient list: the total limit applies, not the per-header-field one.
        var rcptTo = SendEmailValidator.ParseList(errors, "rcpt_to", request.RcptTo, required: true, maxCount: limits.MaxRecipients);

        SendEmailValidator.CheckTags(errors, request.Tags);
        SendEmailValidator.CheckMetadata(errors, request.Metadata);
        var scheduledAt = ScheduleValidator.Check(errors, request.ScheduledAt, limits);
        var expiresAt = ScheduleValidator.CheckExpiry(errors, request.ExpiresAt, scheduledAt, limits);
        var message = errors.Required("raw", request.Raw) ? Parse(errors, request.Raw!) : null;

        return errors.IsEmpty
            ? (new ValidatedRawEmail(message!, mailFrom!, rcptTo, scheduledAt, expiresAt), new Dictionary<string, string[]>(), "")
            : (null, errors.ToDictionary(), errors.ProblemName);
    }

    private static MimeMessage? Parse(SendEmailValidator.Errors errors, string base64)
    {
        var bytes = new byte[base64.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64String(base64, bytes, out var length) || length == 0)
        {
            errors.Add("raw", "raw must be a non-empty base64 string holding an RFC 5322 message.");
            return null;
        }

        MimeMessage message;
        try
        {
            message = MimeMessage.Load(new MemoryStream(bytes, 0, length));
        }
        catch (FormatException ex)
        {
            errors.Add("raw", $"raw is not an RFC 5322 message: {ex.Message}");
            return null;
        }

        if (message.From.Mailboxes.FirstOrDefault() is null)
        {
            errors.Add("raw", "The message has no valid From header.");
        }

        foreach (var header in message.Headers)
        {
            // Folding whitespace is legal in the raw header; what must not appear is a control character in the value.
            if (SendEmailValidator.ContainsControl(header.Value.ReplaceLineEndings(" ").Replace('\t', ' ')))
            {
                errors.Add("raw", $"The {header.Field} header contains control characters.");
            }
        }

        message.Headers.RemoveAll(HeaderId.Bcc);
        return message;
    }
}
