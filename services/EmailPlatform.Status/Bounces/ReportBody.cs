using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// The body of <c>POST /v1/bounces</c> and <c>POST /v1/complaints</c>: a report as it was received, headers and all
/// (<c>Content-Type: message/rfc822</c>), at most <see cref="MaxBytes"/>, the limit the SMTP listener keeps too.
/// </summary>
public static class ReportBody
{
    /// <summary>A report returns the message, attachments and all, at most.</summary>
    public const int MaxBytes = 10 * 1024 * 1024;

    /// <summary>Whether the request says its body is a message (<c>message/rfc822</c>, parameters allowed).</summary>
    public static bool IsMessage(HttpRequest request) =>
        request.ContentType is { } contentType && ContentType.TryParse(contentType, out var parsed) && parsed.IsMimeType("message", "rfc822");

    /// <summary>The body, or null when it is larger than <see cref="MaxBytes"/>.</summary>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
