using System.Text;
using System.Text.Json.Nodes;
using MimeKit;

namespace EmailPlatform.LoadBench;

/// <summary>
/// The emails of a run: the JSON the clients POST (one body per priority, built once) and, for the baseline, a MIME
/// message with the same text, attachments and recipients, so both sides move the same bytes to the sink. Unless
/// <c>--same-recipients</c> is given, each email goes to addresses of its own (<c>reader0.000000000042@example.test</c>),
/// as a transactional stream's do: every address is then new to the workers' suppression lookups, which a stream of
/// one address would hide behind their cache. The addresses are written into a copy of the built body, digits over
/// digits, so the JSON stays the same size.
/// </summary>
internal sealed class BenchEmails
{
    private const string Words = "The quick brown fox jumps over the lazy dog. ";

    private readonly Dictionary<string, byte[]> _bodies = new(StringComparer.Ordinal);
    private readonly (string Priority, double Upto)[] _mix;
    private readonly string _text;
    private readonly byte[] _attachment;

    /// <summary>Where each recipient's number sits in the bodies (they differ only after the addresses, so one list serves all).</summary>
    private readonly Dictionary<string, int[]> _numberOffsets = new(StringComparer.Ordinal);

    /// <summary>The digits of the email's number in each address; unique up to 10^12 emails.</summary>
    private const int NumberDigits = 12;

    public BenchEmails(BenchOptions options)
    {
        Options = options;
        _attachment = new byte[options.AttachmentSize];
        new Random(7).NextBytes(_attachment);

        // Fill the text so that the normal-priority JSON is MessageSize bytes.
        var probe = Json("normal", "").ToJsonString();
        var fill = Math.Max(16, options.MessageSize - Encoding.UTF8.GetByteCount(probe));
        var text = new StringBuilder(fill + Words.Length);
        while (text.Length < fill)
        {
            text.Append(Words);
        }

        _text = text.ToString(0, fill);
        var total = options.PriorityMix.Values.Sum();
        var upto = 0.0;
        _mix = options.PriorityMix.Select(p => (p.Key, upto += p.Value / total)).ToArray();
        foreach (var priority in options.PriorityMix.Keys)
        {
            var body = Encoding.UTF8.GetBytes(Json(priority, _text).ToJsonString());
            _bodies[priority] = body;
            _numberOffsets[priority] = [.. Recipients(0).Select(r => OffsetOf(body, Encoding.UTF8.GetBytes(r)) + r.IndexOf('.', StringComparison.Ordinal) + 1)];
        }
    }

    public BenchOptions Options { get; }

    public int BodyBytes => _bodies.Values.First().Length;

    /// <summary>
    /// The body of request <paramref name="index"/>: its priority drawn by weight, the same for the same index, and (unless
    /// <c>--same-recipients</c>) addresses numbered <paramref name="index"/>.
    /// </summary>
    public byte[] Body(long index)
    {
        var draw = new Random((int)(index * 2654435761 % int.MaxValue)).NextDouble();
        var priority = _mix.FirstOrDefault(m => draw < m.Upto).Priority ?? _mix[^1].Priority;
        var body = _bodies[priority];
        if (Options.SameRecipients)
        {
            return body;
        }

        var copy = (byte[])body.Clone();
        var number = Encoding.ASCII.GetBytes(Number(index));
        foreach (var offset in _numberOffsets[priority])
        {
            number.CopyTo(copy, offset);
        }

        return copy;
    }

    /// <summary>What a worker builds for one email, approximately: the baseline sends this.</summary>
    public MimeMessage Mime(long index)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Bench", "bench@acme.test"));
        message.To.AddRange(Recipients(Options.SameRecipients ? 0 : index).Select(r => MailboxAddress.Parse(r)));
        message.Subject = "End-to-end benchmark";
        message.MessageId = $"{Guid.NewGuid():N}.{index}@bench.acme.test";
        var body = new BodyBuilder { TextBody = _text };
        for (var i = 0; i < Options.Attachments; i++)
        {
            body.Attachments.Add($"attachment-{i}.bin", _attachment, new ContentType("application", "octet-stream"));
        }

        message.Body = body.ToMessageBody();
        return message;
    }

    private IEnumerable<string> Recipients(long number) =>
        Enumerable.Range(0, Options.Recipients).Select(i => $"reader{i}.{Number(number)}@example.test");

    private static string Number(long index) => index.ToString("D" + NumberDigits, System.Globalization.CultureInfo.InvariantCulture);

    private static int OffsetOf(byte[] body, byte[] text) =>
        body.AsSpan().IndexOf(text) is var at and >= 0 ? at : throw new InvalidOperationException("A recipient is not in the body as written.");

    private JsonObject Json(string priority, string text)
    {
        var email = new JsonObject
        {
            ["from"] = "Bench <bench@acme.test>",
            ["to"] = new JsonArray(Recipients(0).Select(r => (JsonNode)JsonValue.Create(r)!).ToArray()),
            ["subject"] = "End-to-end benchmark",
            ["text"] = text,
            ["priority"] = priority,
            ["tags"] = new JsonArray(new JsonObject { ["name"] = "bench", ["value"] = "e2e" }),
        };
        if (Options.Attachments > 0)
        {
            var content = Convert.ToBase64String(_attachment);
            email["attachments"] = new JsonArray(Enumerable.Range(0, Options.Attachments)
                .Select(i => (JsonNode)new JsonObject
                {
                    ["filename"] = $"attachment-{i}.bin",
                    ["content"] = content,
                    ["content_type"] = "application/octet-stream",
                })
                .ToArray());
        }

        return email;
    }
}
