using EmailPlatform.Contracts;
using MimeKit;

namespace EmailPlatform.Ingress.Sending;

/// <summary>Decodes base64 attachment content. Remote <c>path</c> attachments are refused: the server never fetches URLs.</summary>
internal static class AttachmentReader
{
    public const int MaxAttachments = 100;

    public static IReadOnlyList<EmailAttachment> Read(SendEmailValidator.Errors errors, IReadOnlyList<AttachmentRequest>? attachments)
    {
        var result = new List<EmailAttachment>();
        if (attachments is null)
        {
            return result;
        }

        if (attachments.Count > MaxAttachments)
        {
            errors.Add("attachments", $"At most {MaxAttachments} attachments are allowed.", "invalid_attachment");
            return result;
        }

        for (var i = 0; i < attachments.Count; i++)
        {
            var field = $"attachments[{i}]";
            var attachment = attachments[i];
            if (attachment?.Path is not null)
            {
                errors.Add($"{field}.path", "Attachments by path (URL) are not supported: send the content as base64.", "invalid_attachment");
                continue;
            }

            if (attachment is null || string.IsNullOrEmpty(attachment.Filename))
            {
                errors.Add($"{field}.filename", "A filename is required.", "invalid_attachment");
                continue;
            }

            if (!errors.HeaderSafe($"{field}.filename", attachment.Filename))
            {
                continue;
            }

            var content = Decode(attachment.Content);
            if (content is null or { Length: 0 })
            {
                errors.Add($"{field}.content", "The content is required, as non-empty base64.", "invalid_attachment");
                continue;
            }

            var contentType = attachment.ContentType ?? MimeTypes.GetMimeType(attachment.Filename);
            if (!ContentType.TryParse(contentType, out _) || SendEmailValidator.ContainsControl(contentType))
            {
                errors.Add($"{field}.content_type", $"'{contentType}' is not a valid MIME type.", "invalid_attachment");
                continue;
            }

            if (attachment.ContentId is { Length: > 0 } contentId
                && (!errors.HeaderSafe($"{field}.content_id", contentId) || !IsContentId(errors, $"{field}.content_id", contentId)))
            {
                continue;
            }

            result.Add(new EmailAttachment(attachment.Filename, contentType, attachment.ContentId, content));
        }

        return result;
    }

    public const int MaxContentIdLength = 250;

    /// <summary>
    /// A <c>content_id</c> the message can carry as a Content-ID header, unchanged, for the HTML's <c>cid:</c>
    /// reference to find: an RFC 5322 msg-id's characters (letters, digits, <c>!#$%&amp;'*+-/=?^_`{|}~</c>, <c>.</c>
    /// and <c>@</c>), optionally in angle brackets, which are not part of it. MimeKit refuses some others when the
    /// worker builds the part (<c>(logo)</c>, an empty <c>&lt;&gt;</c>) and silently drops spaces from the rest, so
    /// an email accepted with one would fail or lose its image.
    /// </summary>
    private static bool IsContentId(SendEmailValidator.Errors errors, string field, string contentId)
    {
        var id = contentId.Trim();
        if (id.StartsWith('<') && id.EndsWith('>') && id.Length >= 2)
        {
            id = id[1..^1];
        }

        if (id.Length is > 0 and <= MaxContentIdLength && id.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.@".Contains(c)))
        {
            return true;
        }

        errors.Add(field, $"A content_id is 1 to {MaxContentIdLength} characters: ASCII letters, digits, '.', '@' and !#$%&'*+-/=?^_`{{|}}~, " +
            "optionally in angle brackets; the HTML refers to it as cid:<content_id>.", "invalid_attachment");
        return false;
    }

    private static byte[]? Decode(string? base64)
    {
        if (base64 is null)
        {
            return null;
        }

        var buffer = new byte[base64.Length * 3 / 4 + 3];
        return Convert.TryFromBase64String(base64, buffer, out var written) ? buffer[..written] : null;
    }
}
