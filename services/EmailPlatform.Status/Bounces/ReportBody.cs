using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// The body of <c>POST /v1/bounces</c> and <c>POST /v1/complaints</c>: a report as it was received, headers and all
/// (<c>Content-Type: message/rfc822</c>), at most <see cref="MaxBytes"/>, the limit the SMTP listener keeps too; and
/// the message read from it (<see cref="ParseAsync"/>), however it came.
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

    /// <summary>The message in <paramref name="received"/>, or why it is none.</summary>
    public static async Task<(MimeMessage? Message, string? Error)> ParseAsync(byte[] received, CancellationToken cancellationToken)
    {
        try
        {
            return (await MimeMessage.LoadAsync(new MemoryStream(received, writable: false), cancellationToken), null);
        }
        catch (FormatException ex)
        {
            return (null, $"The body could not be read as an RFC 5322 message: {ex.Message}");
        }
    }
}
