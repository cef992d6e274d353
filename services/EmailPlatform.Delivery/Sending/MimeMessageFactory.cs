using EmailPlatform.Contracts;
using MimeKit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Builds the MIME message for a <see cref="SendEmail"/>. Deterministic: the same command always gives the same
/// headers, so every attempt carries the <c>Message-ID</c> fixed at accept. There is never a <c>Bcc</c> header:
/// blind recipients are only in the envelope. The caller disposes the message (MimeKit's messages have finalizers).
/// </summary>
internal static class MimeMessageFactory
{
    public const string EmailIdHeader = "X-Email-Id";

    /// <summary>Headers the platform sets itself; a client-supplied header of the same name is ignored.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", EmailIdHeader,
    };

    public static MimeMessage Create(SendEmail email)
    {
        if (email.RawMessage is { } raw)
        {
            // A raw send is the client's own message, checked and given its Message-ID at accept: send it as it is, its
            // own Date included. One without a Date (RFC 5322 requires it, and receivers such as Gmail refuse mail that
            // lacks one; relays add it only for their local submissions) is dated when it was due, as a JSON send is:
            // not at accept, where a scheduled message would carry the day it was accepted.
            var loaded = MimeMessage.Load(new MemoryStream(raw, writable: false));
            if (!loaded.Headers.Contains(HeaderId.Date))
            {
                loaded.Date = email.DueAt();
            }

            // The email's id, as on every message sent here: a bounce or complaint that returns the message names its
            // email by it, whatever Message-ID and envelope sender the client chose. Added after the client's headers,
            // which a DKIM signature of theirs covers; one of the same name that came with the message is not ours.
            loaded.Headers.RemoveAll(EmailIdHeader);
            loaded.Headers.Add(EmailIdHeader, email.EmailId.ToString());
            return loaded;
        }

        RejectLineBreaks("Subject", email.Subject, email.EmailId);

        // Not the parameterless constructor: it generates a Message-Id (host name lookup, random bytes) that would
        // only be replaced below.
        var message = new MimeMessage((IEnumerable<Header>)[]) { MimeVersion = new Version(1, 0) };
        message.From.Add(MailboxAddress.Parse(email.From));
        message.To.AddRange(email.To.Select(MailboxAddress.Parse));
        message.Cc.AddRange(email.Cc.Select(MailboxAddress.Parse));
        message.ReplyTo.AddRange(email.ReplyTo.Select(MailboxAddress.Parse));
        message.Subject = email.Subject;
        // When the email was due: a scheduled one is dated its time, not the day it was accepted. The same on every
        // attempt, as the Message-ID is.
        message.Date = email.DueAt();

        // MimeKit takes the id without angle brackets and writes "Message-Id: <id>".
        message.MessageId = email.MessageId.Trim().TrimStart('<').TrimEnd('>');

        foreach (var (name, value) in email.Headers)
        {
            RejectLineBreaks(name, value, email.EmailId);
            if (!Reserved.Contains(name))
            {
                message.Headers.Add(name, value);
            }
        }

        message.Headers.Add(EmailIdHeader, email.EmailId.ToString());
        message.Body = CreateBody(email);
        return message;
    }

    /// <summary>The ingress rejects these; a command that has one anyway is faulted, never sent (header injection).</summary>
    private static void RejectLineBreaks(string name, string value, Guid emailId)
    {
        if (value.AsSpan().ContainsAny('\r', '\n'))
        {
            throw new FormatException($"Header '{name}' of email {emailId} contains CR or LF.");
        }
    }

    /// <summary>
    /// multipart/mixed( multipart/alternative( text/plain, multipart/related( text/html, inline parts ) ), attachments ),
    /// each level present only when needed. Inline parts (those with a Content-ID) go next to the HTML that
    /// references them; without HTML they are ordinary attachments.
    /// </summary>
    private static MimeEntity CreateBody(SendEmail email)
    {
        var body = new BodyBuilder { TextBody = email.Text, HtmlBody = email.Html };
        foreach (var attachment in email.Attachments)
        {
            var contentType = ContentType.TryParse(attachment.ContentType, out var parsed)
                ? parsed
                : new ContentType("application", "octet-stream");

            if (attachment.ContentId is { Length: > 0 } contentId && email.Html is not null)
            {
                // MimeKit gives a linked resource a relative Content-Location made of its file name, and throws for a name
                // that reads as an absolute URI (cid:logo.png, a:b.png); such a part gets its name without a
                // Content-Location, which nothing needs: the HTML refers to it by its Content-ID.
                var fileName = Path.GetFileName(attachment.Filename);
                var locatable = Uri.TryCreate(fileName, UriKind.Relative, out _);
                var inline = body.LinkedResources.Add(locatable ? fileName : "inline", attachment.Content, contentType);
                if (!locatable)
                {
                    inline.ContentLocation = null;
                    inline.ContentDisposition ??= new ContentDisposition(ContentDisposition.Inline);
                    inline.ContentDisposition.FileName = fileName;
                    inline.ContentType.Name = fileName;
                }

                inline.ContentId = contentId.Trim().TrimStart('<').TrimEnd('>');
            }
            else
            {
                body.Attachments.Add(attachment.Filename, attachment.Content, contentType);
            }
        }

        return body.ToMessageBody();
    }
}
