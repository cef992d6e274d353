using System.Text;
using System.Text.RegularExpressions;
using EmailPlatform.ServiceDefaults.Problems;
using MimeKit;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// Checks a send request before anything is stored. Addresses are parsed with MimeKit in strict mode; CR,
/// LF, NUL and every other control character are refused in anything that becomes a header (addresses,
/// display names, subject, header names and values, filenames, tags), so nothing can inject a header.
/// </summary>
internal static partial class SendEmailValidator
{
    public const int MaxRecipientsPerField = 50;
    public const int MaxHeaderValueLength = 998;

    /// <summary>RFC 5321's limits (4.5.3.1), counted in UTF-8 bytes as an SMTPUTF8 relay counts them.</summary>
    public const int MaxLocalPartBytes = 64;
    public const int MaxAddressBytes = 254;

    /// <summary>
    /// The status service keeps each metadata entry as an indexed row (key and value together); PostgreSQL refuses an
    /// index row over about 2,700 bytes, which 256 four-byte key characters and a 1,000-byte value stay well under.
    /// </summary>
    public const int MaxMetadataEntries = 50;
    public const int MaxMetadataKeyLength = 256;
    public const int MaxMetadataValueBytes = 1000;

    /// <summary>
    /// Headers the platform writes itself, and the resent fields (RFC 5322 §3.6.6), which a message composed here never
    /// has: a <c>Resent-From</c> or <c>Resent-Sender</c> would name a sender that a key's allowed sender domains do not
    /// cover (a message that really is being resent goes through <c>POST /v1/emails/raw</c>, which checks them). A client
    /// may not set or override any of them.
    /// </summary>
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID", "Sender", "Return-Path",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
        "Received", "DKIM-Signature", "X-Email-Id",
        "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Message-ID", "Resent-Reply-To",
    };

    private static readonly ParserOptions StrictAddresses = new()
    {
        AddressParserComplianceMode = RfcComplianceMode.Strict,
        AllowAddressesWithoutDomain = false,
        AllowUnquotedCommasInAddresses = false,
    };

    public static ValidationResult Validate(SendEmailRequest request, SendLimits limits)
    {
        var errors = new Errors();

        var from = errors.Required("from", request.From) ? ParseMailbox(errors, "from", request.From!) : null;
        var to = ParseList(errors, "to", request.To, required: true);
        var cc = ParseList(errors, "cc", request.Cc, required: false);
        var bcc = ParseList(errors, "bcc", request.Bcc, required: false);
        var replyTo = ParseList(errors, "reply_to", request.ReplyTo, required: false);
        if (to.Count + cc.Count + bcc.Count > limits.MaxRecipients)
        {
            errors.Add("to", $"At most {limits.MaxRecipients} recipients (to, cc and bcc together) are allowed in one email.");
        }

        if (errors.Required("subject", request.Subject))
        {
            errors.HeaderSafe("subject", request.Subject!);
        }

        if (string.IsNullOrEmpty(request.Html) && string.IsNullOrEmpty(request.Text))
        {
            errors.Missing("html", "Either html or text is required.");
        }

        errors.NoNul("html", request.Html);
        errors.NoNul("text", request.Text);

        CheckHeaders(errors, request.Headers);
        var attachments = AttachmentReader.Read(errors, request.Attachments);
        CheckTags(errors, request.Tags);
        CheckMetadata(errors, request.Metadata);

        var scheduledAt = ScheduleValidator.Check(errors, request.ScheduledAt, limits);
        var expiresAt = ScheduleValidator.CheckExpiry(errors, request.ExpiresAt, scheduledAt, limits);

        if (!errors.IsEmpty)
        {
            return ValidationResult.Invalid(errors.ToDictionary(), errors.ProblemName);
        }

        return ValidationResult.Valid(new ValidatedEmail(from!, to, cc, bcc, replyTo, attachments, scheduledAt, expiresAt));
    }

    internal static MailboxAddress? ParseMailbox(Errors errors, string field, string value)
    {
        if (!errors.HeaderSafe(field, value))
        {
            return null;
        }

        if (!MailboxAddress.TryParse(StrictAddresses, value, out var mailbox) || !mailbox.Address.Contains('@', StringComparison.Ordinal)
            || !DomainNames.IsValidMailDomain(mailbox.Domain))
        {
            errors.Add(field, $"'{value}' is not a valid email address. Use 'name@example.com' or 'Name <name@example.com>'.",
                field == "from" ? ApiProblems.InvalidFromAddress : null);
            return null;
        }

        if (!FitsSmtpLimits(errors, field, mailbox))
        {
            return null;
        }

        return mailbox;
    }

    /// <summary>
    /// Whether an address is short enough for SMTP (local part at most 64 bytes, the address at most 254, in UTF-8);
    /// when not, says so under <paramref name="field"/>. A relay would refuse longer ones, and the status service keeps
    /// a sender in 320 characters.
    /// </summary>
    /// <param name="where">What holds the address, for the message; <paramref name="field"/> unless given.</param>
    internal static bool FitsSmtpLimits(Errors errors, string field, MailboxAddress mailbox, string? where = null)
    {
        var address = mailbox.Address;
        var at = address.LastIndexOf('@');
        var localPart = at < 0 ? address : address[..at]; // a raw header may name a mailbox without a domain
        if (Encoding.UTF8.GetByteCount(localPart) <= MaxLocalPartBytes && Encoding.UTF8.GetByteCount(address) <= MaxAddressBytes)
        {
            return true;
        }

        errors.Add(field, $"The address in {where ?? field} is too long: the part before '@' may have at most {MaxLocalPartBytes} bytes "
            + $"and the whole address at most {MaxAddressBytes} bytes (UTF-8).", field == "from" ? ApiProblems.InvalidFromAddress : null);
        return false;
    }

    /// <param name="maxCount">The most addresses the field takes; <see cref="MaxRecipientsPerField"/> unless given.</param>
    internal static List<MailboxAddress> ParseList(Errors errors, string field, IReadOnlyList<string>? values, bool required, int maxCount = MaxRecipientsPerField)
    {
        var result = new List<MailboxAddress>();
        if (values is null || values.Count == 0)
        {
            if (required)
            {
                errors.Missing(field, $"The {field} field is required: at least one recipient.");
            }

            return result;
        }

        if (values.Count > maxCount)
        {
            errors.Add(field, $"At most {maxCount} addresses are allowed in {field}; got {values.Count}.");
            return result;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (ParseMailbox(errors, $"{field}[{i}]", values[i] ?? "") is { } mailbox)
            {
                result.Add(mailbox);
            }
        }

        return result;
    }

    private static void CheckHeaders(Errors errors, IReadOnlyDictionary<string, string>? headers)
    {
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            var field = $"headers.{name}";
            if (!HeaderName().IsMatch(name))
            {
                errors.Add(field, "A header name is 1 to 76 printable ASCII characters without spaces or ':'.");
            }
            else if (ReservedHeaders.Contains(name))
            {
                errors.Add(field, $"The {name} header is set by the platform and cannot be given in headers.");
            }

            if (value is null)
            {
                errors.Add(field, "A header value must be a string.");
            }
            else
            {
                errors.HeaderSafe(field, value);
            }
        }
    }

    internal static void CheckTags(Errors errors, IReadOnlyList<TagRequest>? tags)
    {
        for (var i = 0; i < (tags?.Count ?? 0); i++)
        {
            var tag = tags![i];
            if (tag is null || string.IsNullOrEmpty(tag.Name) || !TagText().IsMatch(tag.Name))
            {
                errors.Add($"tags[{i}].name", "A tag name is 1 to 256 ASCII letters, digits, '_' or '-'.");
            }

            if (tag?.Value is null || !TagText().IsMatch(tag.Value))
            {
                errors.Add($"tags[{i}].value", "A tag value is 1 to 256 ASCII letters, digits, '_' or '-'.");
            }
        }
    }

    internal static void CheckMetadata(Errors errors, IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata?.Count > MaxMetadataEntries)
        {
            errors.Add("metadata", $"At most {MaxMetadataEntries} metadata entries are allowed; got {metadata.Count}.");
            return;
        }

        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            if (key.Length is 0 or > MaxMetadataKeyLength || ContainsControl(key))
            {
                errors.Add($"metadata.{key}", $"A metadata key is 1 to {MaxMetadataKeyLength} characters without control characters.");
            }

            if (value is null)
            {
                errors.Add($"metadata.{key}", "A metadata value must be a string.");
            }
            else if (Encoding.UTF8.GetByteCount(value) is var bytes and > MaxMetadataValueBytes)
            {
                errors.Add($"metadata.{key}", $"A metadata value is at most {MaxMetadataValueBytes} bytes in UTF-8; this one has {bytes}.");
            }
            else
            {
                errors.NoNul($"metadata.{key}", value);
            }
        }
    }

    internal static bool ContainsControl(string value)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"^[!-9;-~]{1,76}\z")]
    private static partial Regex HeaderName();

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,256}\z")]
    private static partial Regex TagText();

    /// <summary>Collects per-field messages and decides the problem's <c>name</c>.</summary>
    internal sealed class Errors
    {
        private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);
        private string? _name;

        public bool IsEmpty => _errors.Count == 0;

        public string ProblemName => _name ?? ApiProblems.ValidationError;

        public void Add(string field, string message, string? name = null)
        {
            if (!_errors.TryGetValue(field, out var list))
            {
                _errors[field] = list = [];
            }

            list.Add(message);
            _name ??= name;
        }

        public void Missing(string field, string message) => Add(field, message, ApiProblems.MissingRequiredField);

        public bool Required(string field, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                Missing(field, $"The {field} field is required.");
                return false;
            }

            return true;
        }

        /// <summary>Refuses control characters (CR, LF, NUL, ...) and over-long values in what becomes a header.</summary>
        public bool HeaderSafe(string field, string value)
        {
            if (ContainsControl(value))
            {
                Add(field, $"The {field} field must not contain control characters such as CR, LF or NUL.");
                return false;
            }

            if (value.Length > MaxHeaderValueLength)
            {
                Add(field, $"The {field} field is longer than {MaxHeaderValueLength} characters.");
                return false;
            }

            return true;
        }

        /// <summary>
        /// Refuses NUL (U+0000) in free text (bodies, metadata values), where other control characters such as line breaks
        /// and tabs belong: no email may contain it (RFC 5322), and PostgreSQL cannot store it in text.
        /// </summary>
        public void NoNul(string field, string? value)
        {
            if (value is not null && value.Contains('\0', StringComparison.Ordinal))
            {
                Add(field, $"The {field} field must not contain NUL (U+0000).");
            }
        }

        public Dictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }
}
