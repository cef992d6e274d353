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
/// envelope addresses are valid, every address (envelope and headers) fits SMTP's length limits, and no header carries
/// control characters MimeKit would pass through.
/// A <c>Bcc</c> header is removed (the envelope decides who gets the message; a Bcc header would disclose it).
/// </summary>
internal static class RawMessageReader
{
    /// <summary>How the accepted message is stored: as on the wire (CRLF), whatever the platform's own line ending.</summary>
    public static readonly FormatOptions Rfc5322 = CreateFormat();

    /// <summary>The headers that say who a message is from; a key restricted to some domains must be allowed every address in them.</summary>
    public static readonly HashSet<HeaderId> SenderHeaders = [HeaderId.From, HeaderId.Sender, HeaderId.ResentFrom, HeaderId.ResentSender];

    /// <summary>The headers whose addresses must fit SMTP's limits.</summary>
    private static readonly HashSet<HeaderId> AddressHeaders =
    [
        HeaderId.From, HeaderId.Sender, HeaderId.ReplyTo, HeaderId.To, HeaderId.Cc,
        HeaderId.ResentFrom, HeaderId.ResentSender, HeaderId.ResentReplyTo, HeaderId.ResentTo, HeaderId.ResentCc,
    ];

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

        // A line MimeKit cannot read as a header (no colon, or a CR in the name) becomes one header with an empty value,
        // so its values alone do not show every byte of the header section: the bytes and each name are checked too.
        if (!IsHeaderSectionClean(bytes.AsSpan(0, length)))
        {
            errors.Add("raw", "The message's headers contain a CR that does not end a line, or a control character.");
        }

        foreach (var header in message.Headers)
        {
            if (SendEmailValidator.ContainsControl(header.Field))
            {
                errors.Add("raw", "A header name of the message contains control characters.");
            }

            // MimeKit's Value drops every CR and LF, and the message goes out as its raw bytes: the bytes are checked (a
            // lone CR would start a new header line at many receivers), then the decoded text (NEL, LS, PS …).
            if (!IsFoldedCleanly(header.RawValue)
                || SendEmailValidator.ContainsControl(header.Value.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\t', ' ')))
            {
                errors.Add("raw", $"The {header.Field} header contains control characters.");
            }
        }

        foreach (var (header, mailbox) in Mailboxes(message, AddressHeaders))
        {
            SendEmailValidator.FitsSmtpLimits(errors, "raw", mailbox, $"the {header.Field} header");
        }

        // The sender headers are checked against a key's allowed sender domains: one that does not parse would go out
        // unchecked.
        foreach (var header in message.Headers.Where(h => SenderHeaders.Contains(h.Id) && !InternetAddressList.TryParse(h.RawValue, out _)))
        {
            errors.Add("raw", $"The {header.Field} header is not a valid address list.");
        }

        message.Headers.RemoveAll(HeaderId.Bcc);
        return message;
    }

    /// <summary>Every mailbox in the headers of <paramref name="ids"/>, each header parsed on its own (a message may repeat one).</summary>
    internal static IEnumerable<(Header Header, MailboxAddress Mailbox)> Mailboxes(MimeMessage message, IReadOnlySet<HeaderId> ids) =>
        message.Headers
            .Where(h => ids.Contains(h.Id))
            .SelectMany(h => InternetAddressList.TryParse(h.RawValue, out var list) ? list.Mailboxes.Select(m => (h, m)) : []);

    /// <summary>
    /// Whether the header section (up to the first empty line) holds no control byte but tab and line breaks, and no CR
    /// that is not followed by LF. A lone LF ends a line, as in a message written with Unix line endings.
    /// </summary>
    internal static bool IsHeaderSectionClean(ReadOnlySpan<byte> message)
    {
        for (var i = 0; i < message.Length; i++)
        {
            var b = message[i];
            if (b == (byte)'\n')
            {
                var rest = message[(i + 1)..];
                if (rest.StartsWith("\n"u8) || rest.StartsWith("\r\n"u8))
                {
                    return true;
                }
            }
            else if (b == (byte)'\r' ? i + 1 == message.Length || message[i + 1] != (byte)'\n' : (b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether a header's raw value holds no control byte but tab and line breaks, and every line break (CRLF, or a
    /// lone LF in a message written with Unix line endings) either folds (a space or tab follows) or ends the header.
    /// </summary>
    internal static bool IsFoldedCleanly(ReadOnlySpan<byte> raw)
    {
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b is (byte)'\r' or (byte)'\n')
            {
                var next = b == (byte)'\r' && i + 1 < raw.Length && raw[i + 1] == (byte)'\n' ? i + 2 : i + 1;
                if (b == (byte)'\r' && next == i + 1)
                {
                    return false;
                }

                if (next < raw.Length && raw[next] is not ((byte)' ' or (byte)'\t'))
                {
                    return false;
                }

                i = next - 1;
            }
            else if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return false;
            }
        }

        return true;
    }
}
